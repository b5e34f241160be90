package io.sparserender.engine.vae;

import io.sparserender.engine.ops.Ops;
import java.util.List;

/** One decoder up-stage: residual blocks, then the upsample (if any), plus Wan 2.2's duplicate-upsample shortcut. */
final class VaeUpStage<T> {
    private final List<VaeResidualBlock<T>> resnets;
    private final VaeUpsample<T> upsample; // null on the last stage
    private final DupUp<T> shortcut; // Wan 2.2 up-stages only

    VaeUpStage(List<VaeResidualBlock<T>> resnets, VaeUpsample<T> upsample, DupUp<T> shortcut) {
        this.resnets = List.copyOf(resnets);
        this.upsample = upsample;
        this.shortcut = shortcut;
    }

    T forward(Ops<T> ops, T x, CausalConvCache<T> cache, boolean firstChunk) {
        T y = x;
        for (VaeResidualBlock<T> r : resnets) {
            T next = r.forward(ops, y, cache);
            if (y != x) {
                ops.release(y);
            }
            y = next;
        }
        if (upsample != null) {
            T next = upsample.forward(ops, y, cache, firstChunk);
            if (y != x) {
                ops.release(y);
            }
            y = next;
        }
        if (shortcut != null) {
            T dup = shortcut.forward(ops, x, firstChunk);
            T sum = ops.add(y, dup);
            ops.release(dup);
            if (y != x) {
                ops.release(y);
            }
            y = sum;
        }
        return y;
    }
}
