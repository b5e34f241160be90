package io.sparserender.engine.gpu;

import java.util.Arrays;

/**
 * The sizes of one {@code conv3d} call (stride 1, valid in time, zero padding in space) and its GEMM view
 * in {@code conv3d_igemm.cu}: M = T'·H'·W' output positions, N = O output channels, K = C·kt·kh·kw (the
 * kernel runs K' = ⌈C/32⌉·32·kt·kh·kw, channels padded to whole blocks of 32). Checks the shapes and the
 * kernel's 32-bit index limits, naming the shapes in every refusal.
 *
 * @param c input channels; {@code t, h, w} input frames, height, width
 * @param o output channels; {@code kt, kh, kw} the kernel; {@code padH, padW} zero padding in space
 */
public record Conv3dGeometry(int c, int t, int h, int w, int o, int kt, int kh, int kw, int padH, int padW) {
    /** Rows of one block tile (BM in conv3d_igemm.cu) and channels per K-step (BK). */
    static final int BM = 128;
    static final int BK = 32;

    public Conv3dGeometry {
        if (c < 1 || t < 1 || h < 1 || w < 1 || o < 1 || kt < 1 || kh < 1 || kw < 1 || padH < 0 || padW < 0) {
            throw new IllegalArgumentException("Invalid conv3d: input [" + c + ", " + t + ", " + h + ", " + w + "], kernel ["
                    + o + ", " + c + ", " + kt + ", " + kh + ", " + kw + "], padding " + padH + "x" + padW
                    + ": sizes must be positive and padding non-negative");
        }
        long to = t - kt + 1L;
        long ho = h + 2L * padH - kh + 1;
        long wo = w + 2L * padW - kw + 1;
        if (to < 1 || ho < 1 || wo < 1) {
            throw new IllegalArgumentException("Cannot apply conv3d: input [" + c + ", " + t + ", " + h + ", " + w
                    + "] is smaller than kernel [" + kt + ", " + kh + ", " + kw + "] with padding " + padH + "x" + padW);
        }
        long m = to * ho * wo;
        long plane = (long) t * h * w;
        if (m > Integer.MAX_VALUE - BM || plane > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("conv3d too large for one launch: input [" + c + ", " + t + ", " + h + ", " + w
                    + "] gives " + m + " output positions and " + plane + " input positions per channel (each must stay below 2^31)");
        }
        long tiles = ((m + BM - 1) / BM) * (long) ((o + 31) / 32);
        long packed = (long) channelBlocks(c) * BK * kt * kh * kw;
        if (tiles > Integer.MAX_VALUE || packed > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("conv3d too large for one launch: " + m + " output positions x " + o
                    + " channels, K " + packed);
        }
    }

    /** Geometry from x [C, T, H, W] and weight [O, C, kt, kh, kw]. */
    public static Conv3dGeometry of(int[] x, int[] weight, int padH, int padW) {
        if (x.length != 4 || weight.length != 5 || weight[1] != x[0]) {
            throw new IllegalArgumentException("Cannot apply conv3d: input " + Arrays.toString(x) + " (expected [C, T, H, W]), weight "
                    + Arrays.toString(weight) + " (expected [O, C, kt, kh, kw] with the input's C)");
        }
        return new Conv3dGeometry(x[0], x[1], x[2], x[3], weight[0], weight[2], weight[3], weight[4], padH, padW);
    }

    public int outT() {
        return t - kt + 1;
    }

    public int outH() {
        return h + 2 * padH - kh + 1;
    }

    public int outW() {
        return w + 2 * padW - kw + 1;
    }

    public int[] outShape() {
        return new int[] {o, outT(), outH(), outW()};
    }

    /** GEMM rows: output positions T'·H'·W'. */
    public int m() {
        return outT() * outH() * outW();
    }

    public int taps() {
        return kt * kh * kw;
    }

    /** The GEMM's true depth C·kt·kh·kw. */
    public long k() {
        return (long) c * taps();
    }

    /** ⌈C / 32⌉: channel blocks of the packed weight. */
    public int channelBlocks() {
        return channelBlocks(c);
    }

    static int channelBlocks(int c) {
        return (c + BK - 1) / BK;
    }

    /** Row length of the packed weight [O, CB, taps, 32]: CB·taps·32. */
    public int packedK() {
        return channelBlocks() * taps() * BK;
    }

    /** Elements between two channels of the input: T·H·W. */
    public int inputPlane() {
        return t * h * w;
    }

    /** Useful FLOPs, 2·M·N·K (what TFLOP/s figures count). */
    public double flops() {
        return 2.0 * m() * o * k();
    }

    @Override
    public String toString() {
        return "conv3d [" + c + ", " + t + ", " + h + ", " + w + "] * [" + o + ", " + c + ", " + kt + ", " + kh + ", " + kw
                + "] pad " + padH + "x" + padW + " -> " + Arrays.toString(outShape());
    }
}
