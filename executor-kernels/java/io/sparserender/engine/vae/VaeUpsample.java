package io.sparserender.engine.vae;

import io.sparserender.engine.ops.Ops;

/**
 * Wan's {@code upsample2d} / {@code upsample3d}: optionally doubles time with a causal (3,1,1) conv to 2C
 * channels whose halves become two interleaved frames (skipped on the first chunk, whose single frame stays
 * single), then nearest ×2 in space and a 3×3 conv per frame.
 */
final class VaeUpsample<T> {
    private final CausalConv3d<T> timeConv; // null for upsample2d
    private final T weight; // [O, C, 1, 3, 3]
    private final T bias;

    VaeUpsample(CausalConv3d<T> timeConv, T weight, T bias) {
        this.timeConv = timeConv;
        this.weight = weight;
        this.bias = bias;
    }

    /** x [C, t, H, W] → [O, t or 2t, 2H, 2W]. */
    T forward(Ops<T> ops, T x, CausalConvCache<T> cache, boolean firstChunk) {
        T in = x;
        if (timeConv != null && !firstChunk) {
            int[] s = ops.shape(x);
            T tc = timeConv.forward(ops, x, cache); // [2C, t, H, W]: channel half j is frame offset j
            T inter = ops.permute(ops.reshape(tc, 2, s[0], s[1], s[2], s[3]), 1, 2, 0, 3, 4);
            ops.release(tc);
            in = ops.reshape(inter, s[0], 2 * s[1], s[2], s[3]);
        }
        T up = ops.upsampleNearest2x(in);
        if (in != x) {
            ops.release(in);
        }
        T out = ops.conv3d(up, weight, bias, 1, 1);
        ops.release(up);
        return out;
    }
}
