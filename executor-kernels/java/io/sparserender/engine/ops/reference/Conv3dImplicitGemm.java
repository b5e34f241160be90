package io.sparserender.engine.ops.reference;

import java.util.Arrays;

/**
 * The index math of {@code conv3d_igemm.cu} in plain Java, statement for statement where it decides
 * which element goes where: the packed weight layout, the block tiles (128 output positions × BN
 * channels) in the kernel's block order, each gather thread's decoding of its output position, the
 * K-step order (channel block outermost, then dt, dh, dw advanced by counters) and the gather with zero
 * padding, and the epilogue's {@code out[n·M + m]}. Products are summed in float per output element in
 * K-step order (the tensor cores' order differs, within float rounding). Not a fast path: it is the
 * kernel's tiling made testable on the CPU ({@code Conv3dImplicitGemmTest} checks it against
 * {@code CpuOps.conv3d}); the numerical twin of the kernel is {@code CpuOps.conv3d} itself.
 */
public final class Conv3dImplicitGemm {
    /** Block rows (output positions), K-step depth (channels), threads per block: as in the kernel. */
    public static final int BM = 128;
    public static final int BK = 32;
    static final int THREADS = 256;

    private Conv3dImplicitGemm() {}

    /** ⌈c / 32⌉. */
    public static int channelBlocks(int c) {
        return (c + BK - 1) / BK;
    }

    /**
     * conv3d_pack_weight_*: W [O, C, kt, kh, kw] → [O, CB, taps, 32], element (o, cb, tap, j) =
     * W[o, 32·cb + j, tap], zero for channels ≥ C. The loop runs over packed elements as the kernel's
     * grid-stride loop does.
     */
    public static float[] packWeight(float[] w, int o, int c, int taps) {
        int cb = channelBlocks(c);
        float[] out = new float[o * cb * taps * BK];
        for (int i = 0; i < out.length; i++) {
            int j = i & 31;
            int r = i >> 5;
            int tap = r % taps;
            r /= taps;
            int b = r % cb;
            int oo = r / cb;
            int ch = b * 32 + j;
            out[i] = ch < c ? w[(oo * c + ch) * taps + tap] : 0f;
        }
        return out;
    }

    /**
     * The convolution as the kernel computes it with block width {@code bn}: x [C, T, H, W], the packed
     * weight of {@link #packWeight}, bias [O] or null; returns [O, T', H', W'] flattened. Elements no
     * block writes stay NaN (the kernel's tests poison their outputs the same way).
     */
    public static float[] apply(float[] x, int c, int t, int h, int w, float[] packed, int o, int kt, int kh, int kw,
            int padH, int padW, float[] bias, int bn) {
        int to = t - kt + 1;
        int ho = h + 2 * padH - kh + 1;
        int wo = w + 2 * padW - kw + 1;
        int mTotal = to * ho * wo;
        int cb = channelBlocks(c);
        int taps = kt * kh * kw;
        int ksteps = cb * taps;
        int kp = ksteps * BK;
        long xChan = (long) t * h * w;
        float[] out = new float[o * mTotal];
        Arrays.fill(out, Float.NaN);

        int tilesM = (mTotal + BM - 1) / BM;
        int tilesN = (o + bn - 1) / bn;
        for (int block = 0; block < tilesM * tilesN; block++) {
            int tm = block / tilesN;
            int tn = block - (block / tilesN) * tilesN;
            int row0 = tm * BM;
            int col0 = tn * bn;
            float[][] acc = new float[BM][bn];
            float[][] aTile = new float[BM][BK];
            float[][] bTile = new float[bn][BK];
            // each gather thread's output position, decoded once
            int[] base0 = new int[THREADS];
            int[] ih0 = new int[THREADS];
            int[] iw0 = new int[THREADS];
            boolean[] mOk = new boolean[THREADS];
            for (int tid = 0; tid < THREADS; tid++) {
                int aRow = tid & (BM - 1);
                int m = row0 + aRow;
                mOk[tid] = m < mTotal;
                int hwO = ho * wo;
                int tO = m / hwO;
                int rem = m - tO * hwO;
                int hO = rem / wo;
                int wO = rem - hO * wo;
                ih0[tid] = hO - padH;
                iw0[tid] = wO - padW;
                base0[tid] = tO * h * w + ih0[tid] * w + iw0[tid];
            }
            int ldCb = 0;
            int ldDt = 0;
            int ldDh = 0;
            int ldDw = 0;
            for (int step = 0; step < ksteps; step++) {
                // gather A: thread tid -> row tid % 128, chunks tid / 128 and tid / 128 + 2
                for (int tid = 0; tid < THREADS; tid++) {
                    int aRow = tid & (BM - 1);
                    int aQ = tid >> 7;
                    int ih = ih0[tid] + ldDh;
                    int iw = iw0[tid] + ldDw;
                    boolean ok = mOk[tid] && ih >= 0 && ih < h && iw >= 0 && iw < w;
                    int off = base0[tid] + ldDt * h * w + ldDh * w + ldDw;
                    for (int g = 0; g < 2; g++) {
                        int chunk = aQ + 2 * g;
                        int c0 = ldCb * 32 + chunk * 8;
                        int left = c - c0;
                        for (int j = 0; j < 8; j++) {
                            float v = 0f;
                            if (ok && j < left) {
                                v = x[(int) ((c0 + j) * xChan + off)];
                            }
                            aTile[aRow][chunk * 8 + j] = v;
                        }
                    }
                }
                if (++ldDw == kw) {
                    ldDw = 0;
                    if (++ldDh == kh) {
                        ldDh = 0;
                        if (++ldDt == kt) {
                            ldDt = 0;
                            ldCb++;
                        }
                    }
                }
                // B: rows n of the packed weight, columns step * 32 .. + 32, zero past O
                for (int r = 0; r < bn; r++) {
                    int n = col0 + r;
                    for (int kk = 0; kk < BK; kk++) {
                        bTile[r][kk] = n < o ? packed[n * kp + step * BK + kk] : 0f;
                    }
                }
                for (int r = 0; r < BM; r++) {
                    for (int n = 0; n < bn; n++) {
                        float s = acc[r][n];
                        for (int kk = 0; kk < BK; kk++) {
                            s += aTile[r][kk] * bTile[n][kk];
                        }
                        acc[r][n] = s;
                    }
                }
            }
            // epilogue: out is [O, M]
            for (int r = 0; r < BM; r++) {
                int m = row0 + r;
                if (m >= mTotal) {
                    continue;
                }
                for (int j = 0; j < bn; j++) {
                    int n = col0 + j;
                    if (n < o) {
                        out[n * mTotal + m] = acc[r][j] + (bias == null ? 0f : bias[n]);
                    }
                }
            }
        }
        return out;
    }
}
