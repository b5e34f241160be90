package io.sparserender.engine.vae;

import io.sparserender.engine.ops.Ops;
import java.lang.reflect.Array;
import java.util.List;

/** {@link Ops#concat} from generic code: a varargs T[] must have the tensors' runtime class, not Object[]. */
final class Concat {
    private Concat() {}

    @SuppressWarnings("unchecked")
    static <T> T of(Ops<T> ops, int dim, List<T> parts) {
        T[] arr = (T[]) Array.newInstance(parts.get(0).getClass(), parts.size());
        return ops.concat(dim, parts.toArray(arr));
    }
}
