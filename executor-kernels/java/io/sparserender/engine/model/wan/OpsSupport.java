package io.sparserender.engine.model.wan;

import io.sparserender.engine.ops.Ops;
import java.lang.reflect.Array;

/**
 * Helpers over {@link Ops} for generic model code.
 *
 * <p>{@link Ops#concat(int, Object[])} is a generic varargs method: called from code generic in T, the
 * compiler passes an {@code Object[]}, which a backend's bridge method casts to its own array type
 * ({@code Tensor[]}) and fails. Building the array with the runtime class of the parts avoids that.
 */
final class OpsSupport {
    private OpsSupport() {}

    @SuppressWarnings("unchecked")
    static <T> T concat(Ops<T> ops, int dim, T a, T b) {
        T[] parts = (T[]) Array.newInstance(a.getClass(), 2);
        parts[0] = a;
        parts[1] = b;
        return ops.concat(dim, parts);
    }
}
