package io.sparserender.engine.vae;

import io.sparserender.engine.ops.Ops;

/**
 * Wan 2.2's parameter-free up-stage shortcut (diffusers {@code DupUp3D}): each input channel is repeated
 * {@code out·ft·fs²/in} times and the copies are laid out as an ft × fs × fs block of (time, height, width)
 * neighbours of {@code out} channels. On the first chunk only the last of the ft time copies is kept, as the
 * main path keeps one frame there.
 */
final class DupUp<T> {
    private final int in;
    private final int out;
    private final int ft;
    private final int fs;

    DupUp(int in, int out, int ft, int fs) {
        if ((out * ft * fs * fs) % in != 0) {
            throw new IllegalArgumentException("Invalid DupUp: out " + out + " × " + ft + "·" + fs + "² is not a multiple of in " + in);
        }
        this.in = in;
        this.out = out;
        this.ft = ft;
        this.fs = fs;
    }

    /** x [in, t, H, W] → [out, ft·t (or ft·t − ft + 1 on the first chunk), fs·H, fs·W]. */
    T forward(Ops<T> ops, T x, boolean firstChunk) {
        int[] s = ops.shape(x);
        int t = s[1];
        int h = s[2];
        int w = s[3];
        T rep = ops.repeatInterleave(x, 0, out * ft * fs * fs / in);
        T blocks = ops.permute(ops.reshape(rep, out, ft, fs, fs, t, h, w), 0, 4, 1, 5, 2, 6, 3);
        ops.release(rep);
        T y = ops.reshape(blocks, out, t * ft, h * fs, w * fs);
        if (firstChunk && ft > 1) {
            T cut = ops.slice(y, 1, ft - 1, t * ft);
            ops.release(y);
            return cut;
        }
        return y;
    }
}
