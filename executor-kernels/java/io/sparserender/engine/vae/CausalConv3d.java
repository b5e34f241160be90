package io.sparserender.engine.vae;

import io.sparserender.engine.ops.Ops;

/**
 * Wan's causal Conv3d: zero padding in space (k/2), in time only in front (kt − 1 frames). Run chunk by chunk,
 * the kt − 1 frames in front are the previous chunks' last input frames, kept in a {@link CausalConvCache}
 * slot (zeros before the first chunk), so a chunked run equals one run over the whole sequence.
 */
final class CausalConv3d<T> {
    private final T weight;
    private final T bias;
    private final int kt;
    private final int padH;
    private final int padW;
    private final int slot;

    /** weight [O, C, kt, kh, kw]; slot: this conv's cache slot (ignored when kt = 1). */
    CausalConv3d(Ops<T> ops, T weight, T bias, int slot) {
        int[] s = ops.shape(weight);
        this.weight = weight;
        this.bias = bias;
        this.kt = s[2];
        this.padH = s[3] / 2;
        this.padW = s[4] / 2;
        this.slot = kt > 1 ? slot : -1;
    }

    boolean usesCache() {
        return slot >= 0;
    }

    /** x [C, t, H, W] → [O, t, H, W]. */
    T forward(Ops<T> ops, T x, CausalConvCache<T> cache) {
        if (kt == 1) {
            return ops.conv3d(x, weight, bias, padH, padW);
        }
        int[] s = ops.shape(x);
        T prev = cache.get(slot);
        boolean fresh = prev == null;
        if (fresh) {
            prev = ops.zeros(s[0], kt - 1, s[2], s[3]);
        }
        T full = ops.concat(1, java.util.List.of(prev, x));
        int frames = s[1] + kt - 1;
        cache.put(slot, ops.slice(full, 1, frames - (kt - 1), frames));
        if (fresh) {
            ops.release(prev);
        }
        T out = ops.conv3d(full, weight, bias, padH, padW);
        ops.release(full);
        return out;
    }
}
