package io.sparserender.engine.vae;

import io.sparserender.engine.ops.Ops;

/** Single-head self-attention over the H·W positions of each frame (no attention across time), plus the input. */
final class VaeAttentionBlock<T> {
    private final T gamma;
    private final T qkvWeight; // [3C, C, 1, 1, 1]
    private final T qkvBias;
    private final T projWeight; // [C, C, 1, 1, 1]
    private final T projBias;

    VaeAttentionBlock(T gamma, T qkvWeight, T qkvBias, T projWeight, T projBias) {
        this.gamma = gamma;
        this.qkvWeight = qkvWeight;
        this.qkvBias = qkvBias;
        this.projWeight = projWeight;
        this.projBias = projBias;
    }

    /** x [C, t, H, W]. */
    T forward(Ops<T> ops, T x) {
        int[] s = ops.shape(x);
        int c = s[0];
        int t = s[1];
        int hw = s[2] * s[3];
        T normed = ops.channelRmsNorm(x, gamma, null);
        T qkv = ops.conv3d(normed, qkvWeight, qkvBias, 0, 0);
        ops.release(normed);
        T q = heads(ops, qkv, 0, c, t, hw);
        T k = heads(ops, qkv, 1, c, t, hw);
        T v = heads(ops, qkv, 2, c, t, hw);
        ops.release(qkv);
        T a = ops.attention(q, k, v, (float) (1 / Math.sqrt(c)), null, null); // [t, HW, 1, C]
        ops.release(q);
        ops.release(k);
        ops.release(v);
        T back = ops.reshape(ops.permute(ops.reshape(a, t, hw, c), 2, 0, 1), c, t, s[2], s[3]);
        ops.release(a);
        T proj = ops.conv3d(back, projWeight, projBias, 0, 0);
        ops.release(back);
        T out = ops.add(proj, x);
        ops.release(proj);
        return out;
    }

    /** Part {@code which} (q, k, v) of [3C, t, H, W] as attention input [t (batch), HW, 1 head, C]. */
    private static <T> T heads(Ops<T> ops, T qkv, int which, int c, int t, int hw) {
        T part = ops.slice(qkv, 0, which * c, (which + 1) * c);
        T p = ops.permute(ops.reshape(part, c, t, hw), 1, 2, 0);
        ops.release(part);
        return ops.reshape(p, t, hw, 1, c);
    }
}
