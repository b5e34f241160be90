package io.sparserender.engine.attention;

import io.sparserender.engine.ops.reference.Fp8E4M3;
import java.util.stream.IntStream;

/**
 * Java twin of the 8-bit dense attention ({@code attention_fp8_quantize.cu} and {@code flash_attention_sm90_ws_fp8.cu}):
 * the operands quantized as the device does it, bit for bit, and the kernel's blockwise forward in the same float
 * arithmetic. Q and K are INT8, V and P FP8 E4M3 (SageAttention's split of FlashAttention-3's FP8 recipe: measured
 * here, E4M3 Q and K put 0.5–0.6 nats of error on the log-sum-exp of peaked rows, their 3-bit mantissa against the
 * score's size; INT8 keeps 7 bits against the group's largest element and accumulates exactly).
 *
 * <p>Scales sit where the kernel applies them for free: Q one per row and head, K one per {@value #BLOCK}-key block
 * and head, V one per channel and head. Q and K: amax / 127, codes rint(x · (127 / amax)); V: amax / 448, codes
 * E4M3(x · (448 / amax)); scale 1 where amax = 0.
 *
 * <p>Forward, per row, block by block ({@value #BLOCK} keys): raw scores S = Σ q8·k8 over the codes (exact integers); the row
 * factor f = (qs · scale · log2 e) · ks_block; the row maximum in log2 units M = max(M, max(S) · f); P = 2^(S·f − (M − 8))
 * (≤ 256: scaled by 2⁸ so that small probabilities stay normal in E4M3; the scale cancels in O / l); l sums P
 * unrounded (the kernel forms the exponent as fma(MAGIC + S, f, −fma(MAGIC, f, M − 8)), MAGIC = 1.5·2²³: its QKᵀ
 * accumulator starts at MAGIC's float bits, so each int32 score reads as the float MAGIC + S with no conversion); O += E4M3(P) · v8 (codes' values, no scale); at the end O · vs / l and the log-sum-exp
 * (M − 8)·ln 2 + ln l. The device differs only by its exp2 approximation, its fp32 summation orders and Hopper's FP8
 * accumulation (≈ 14 bits kept between the tensor core's additions), so a P near an E4M3 rounding boundary may round
 * the other way there.
 */
public final class Fp8Attention {
    /** Keys per block: K's scale granularity and the kernel's block. */
    public static final int BLOCK = 128;
    private static final float LOG2E = 1.4426950408889634f;
    /** 1.5 · 2²³: MAGIC + n is exact for |n| < 2²², and its float bits are MAGIC's plus n (the kernel's accumulator start). */
    private static final float MAGIC = 12582912f;

    private Fp8Attention() {}

    /**
     * Codes and scales of one operand: {@code codes} [B, L, H, D] in the input's layout; {@code scales} Q [B, H, L],
     * K [B, H, ceil(L/128)], V [B, H, D].
     */
    public record Operand(byte[] codes, float[] scales) {}

    /** The three quantized operands of one call. */
    public record Operands(int batch, int seqLen, int heads, int headDim, Operand q, Operand k, Operand v) {}

    /** O [B, L, H, D] and the log-sum-exp [B, H, L] of the scaled scores (natural log). */
    public record Result(float[] out, float[] lse) {}

    /** All three operands of {@code in} (bf16 values in the engine, any floats here). */
    public static Operands quantize(QkvInput in) {
        int b = in.batch(), l = in.seqLen(), h = in.heads(), d = in.headDim();
        return new Operands(b, l, h, d, quantizeQ(in.q().data(), b, l, h, d), quantizeK(in.k().data(), b, l, h, d),
                quantizeV(in.v().data(), b, l, h, d));
    }

    /** Q: INT8, one scale per row and head, scales [B, H, L]. */
    public static Operand quantizeQ(float[] x, int batch, int seqLen, int heads, int headDim) {
        byte[] codes = new byte[x.length];
        float[] scales = new float[batch * heads * seqLen];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < seqLen; i++) {
                for (int h = 0; h < heads; h++) {
                    int at = ((b * seqLen + i) * heads + h) * headDim;
                    float amax = 0f;
                    for (int c = 0; c < headDim; c++) {
                        amax = Math.max(amax, Math.abs(x[at + c]));
                    }
                    scales[(b * heads + h) * seqLen + i] = int8Scale(amax);
                    float inv = int8Inverse(amax);
                    for (int c = 0; c < headDim; c++) {
                        codes[at + c] = int8(x[at + c] * inv);
                    }
                }
            }
        }
        return new Operand(codes, scales);
    }

    /** K: INT8, one scale per 128-key block and head, scales [B, H, ceil(L/128)]. */
    public static Operand quantizeK(float[] x, int batch, int seqLen, int heads, int headDim) {
        int nb = blocks(seqLen);
        byte[] codes = new byte[x.length];
        float[] scales = new float[batch * heads * nb];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int kb = 0; kb < nb; kb++) {
                    int end = Math.min(seqLen, (kb + 1) * BLOCK);
                    float amax = 0f;
                    for (int j = kb * BLOCK; j < end; j++) {
                        int at = ((b * seqLen + j) * heads + h) * headDim;
                        for (int c = 0; c < headDim; c++) {
                            amax = Math.max(amax, Math.abs(x[at + c]));
                        }
                    }
                    scales[(b * heads + h) * nb + kb] = int8Scale(amax);
                    float inv = int8Inverse(amax);
                    for (int j = kb * BLOCK; j < end; j++) {
                        int at = ((b * seqLen + j) * heads + h) * headDim;
                        for (int c = 0; c < headDim; c++) {
                            codes[at + c] = int8(x[at + c] * inv);
                        }
                    }
                }
            }
        }
        return new Operand(codes, scales);
    }

    /** V: FP8 E4M3, one scale per channel and head, scales [B, H, D]. */
    public static Operand quantizeV(float[] x, int batch, int seqLen, int heads, int headDim) {
        byte[] codes = new byte[x.length];
        float[] scales = new float[batch * heads * headDim];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int c = 0; c < headDim; c++) {
                    float amax = 0f;
                    for (int j = 0; j < seqLen; j++) {
                        amax = Math.max(amax, Math.abs(x[((b * seqLen + j) * heads + h) * headDim + c]));
                    }
                    scales[(b * heads + h) * headDim + c] = scale(amax);
                    float inv = inverse(amax);
                    for (int j = 0; j < seqLen; j++) {
                        int at = ((b * seqLen + j) * heads + h) * headDim + c;
                        codes[at] = Fp8E4M3.encode(x[at] * inv);
                    }
                }
            }
        }
        return new Operand(codes, scales);
    }

    /** The kernel's forward over quantized operands, softmax scale {@code scale} (1/√D in attention). */
    public static Result forward(Operands in, float scale) {
        int bsz = in.batch(), seqLen = in.seqLen(), heads = in.heads(), d = in.headDim();
        int nb = blocks(seqLen);
        float[] out = new float[bsz * seqLen * heads * d];
        float[] lse = new float[bsz * heads * seqLen];
        float sl2e = scale * LOG2E;
        IntStream.range(0, bsz * heads).parallel().forEach(bh -> {
            int b = bh / heads, h = bh % heads;
            byte[] k = rows(in.k().codes(), b, h, in);
            float[] v = values(in.v().codes(), b, h, in);
            byte[] q = rows(in.q().codes(), b, h, in);
            float[] s = new float[BLOCK];
            Row row = new Row(d);
            for (int i = 0; i < seqLen; i++) {
                float qf = in.q().scales()[bh * seqLen + i] * sl2e;
                row.start();
                for (int kb = 0; kb < nb; kb++) {
                    int j0 = kb * BLOCK, cols = Math.min(BLOCK, seqLen - j0);
                    float raw = Float.NEGATIVE_INFINITY;
                    for (int c = 0; c < cols; c++) {
                        s[c] = dot(q, i, k, j0 + c, d); // exact: |dot| ≤ 128 · 127² < 2^24
                        raw = Math.max(raw, s[c]);
                    }
                    float f = qf * in.k().scales()[bh * nb + kb];
                    row.block(Math.max(row.m, raw * f));
                    float cst = row.offset(f);
                    for (int c = 0; c < cols; c++) {
                        row.key(s[c], f, cst, v, (j0 + c) * d);
                    }
                    row.endBlock();
                }
                row.write(out, ((b * seqLen + i) * heads + h) * d, in.v().scales(), bh * d, lse, bh * seqLen + i);
            }
        });
        return new Result(out, lse);
    }

    /**
     * The 8-bit listed kernel's forward (br = 128, bc = 64): each 128-row q-tile walks its list of 64-key kv-tiles two
     * entries at a time (a pair is one block of the online softmax; an odd list's last pair has one tile), each tile's
     * scores scaled by its own 128-key block's K scale. {@code list}: entry {@code bh·listBhStride + qt·nk + i} (nk =
     * ceil(L/64)); {@code count} [B·H, ceil(L/128)], the entries used. Tiles off the list get no mass.
     */
    public static Result forwardListed(Operands in, float scale, int[] list, int[] count, long listBhStride) {
        int bsz = in.batch(), seqLen = in.seqLen(), heads = in.heads(), d = in.headDim();
        int nb = blocks(seqLen), nk = (seqLen + 63) / 64, nq = (seqLen + 127) / 128;
        float[] out = new float[bsz * seqLen * heads * d];
        float[] lse = new float[bsz * heads * seqLen];
        float sl2e = scale * LOG2E;
        IntStream.range(0, bsz * heads).parallel().forEach(bh -> {
            int b = bh / heads, h = bh % heads;
            byte[] k = rows(in.k().codes(), b, h, in);
            float[] v = values(in.v().codes(), b, h, in);
            byte[] q = rows(in.q().codes(), b, h, in);
            float[] s = new float[128];
            Row row = new Row(d);
            for (int i = 0; i < seqLen; i++) {
                int qt = i / 128;
                int n = count[bh * nq + qt];
                long at0 = bh * listBhStride + (long) qt * nk;
                float qf = in.q().scales()[bh * seqLen + i] * sl2e;
                row.start();
                for (int e = 0; e < n; e += 2) {
                    int tiles = Math.min(2, n - e);
                    int[] jt = new int[tiles];
                    float[] f = new float[tiles];
                    float mn = row.m;
                    for (int t = 0; t < tiles; t++) {
                        jt[t] = list[(int) (at0 + e + t)];
                        f[t] = qf * in.k().scales()[bh * nb + jt[t] * 64 / BLOCK];
                        float raw = Float.NEGATIVE_INFINITY;
                        for (int c = 0; c < 64 && jt[t] * 64 + c < seqLen; c++) {
                            s[t * 64 + c] = dot(q, i, k, jt[t] * 64 + c, d);
                            raw = Math.max(raw, s[t * 64 + c]);
                        }
                        mn = Math.max(mn, raw * f[t]);
                    }
                    row.block(mn);
                    for (int t = 0; t < tiles; t++) {
                        float cst = row.offset(f[t]);
                        for (int c = 0; c < 64 && jt[t] * 64 + c < seqLen; c++) {
                            row.key(s[t * 64 + c], f[t], cst, v, (jt[t] * 64 + c) * d);
                        }
                    }
                    row.endBlock();
                }
                row.write(out, ((b * seqLen + i) * heads + h) * d, in.v().scales(), bh * d, lse, bh * seqLen + i);
            }
        });
        return new Result(out, lse);
    }

    /** Σ q8·k8 of query row i and key row j (codes [L, D] of one head): exact in an int. */
    private static int dot(byte[] q, int i, byte[] k, int j, int d) {
        int dot = 0;
        for (int e = 0; e < d; e++) {
            dot += q[i * d + e] * k[j * d + e];
        }
        return dot;
    }

    /**
     * One query row's online softmax in the kernel's float arithmetic, shared by the dense and the listed forward: the
     * maximum m in log2 units, the sum l, O unscaled (in float64: the device's accumulation order is not the twin's).
     */
    private static final class Row {
        private final double[] o;
        private float m;
        private float l;
        private float msc;
        private float ps;

        Row(int d) {
            this.o = new double[d];
        }

        void start() {
            m = Float.NEGATIVE_INFINITY;
            l = 0f;
            java.util.Arrays.fill(o, 0);
        }

        /** A new block whose maximum (with the running one) is mn: l and O rescaled to it, the block's sum started. */
        void block(float mn) {
            float alpha = m == Float.NEGATIVE_INFINITY ? 0f : exp2(m - mn);
            m = mn;
            msc = mn - 8f;
            l *= alpha;
            for (int e = 0; e < o.length; e++) {
                o[e] *= alpha;
            }
            ps = 0f;
        }

        /** The exponent's constant for scores under factor f: the kernel's accumulator holds each score as MAGIC + S. */
        float offset(float f) {
            return Math.fma(MAGIC, f, msc);
        }

        /** A key of raw score s: P = 2^(fma(MAGIC + s, f, −cst)) into the block's sum, E4M3(P) · v (row at vAt) into O. */
        void key(float s, float f, float cst, float[] v, int vAt) {
            float p = exp2(Math.fma(MAGIC + s, f, -cst));
            ps += p;
            float p8 = Fp8E4M3.decode(Fp8E4M3.encode(p));
            if (p8 != 0f) {
                for (int e = 0; e < o.length; e++) {
                    o[e] += (double) p8 * v[vAt + e];
                }
            }
        }

        void endBlock() {
            l += ps;
        }

        /** O · vs / l at out[at..] (zeros for a row that kept nothing) and the log-sum-exp (M − 8)·ln 2 + ln l. */
        void write(float[] out, int at, float[] vScales, int vsAt, float[] lse, int lseAt) {
            for (int e = 0; e < o.length; e++) {
                out[at + e] = l == 0f ? 0f : (float) (o[e] / l) * vScales[vsAt + e];
            }
            lse[lseAt] = (float) ((m - 8f) * Math.log(2) + Math.log(l));
        }
    }

    /** Keys' blocks of {@value #BLOCK}. */
    public static int blocks(int seqLen) {
        return (seqLen + BLOCK - 1) / BLOCK;
    }

    /** The codes of head h of batch row b, [L, D]. */
    private static byte[] rows(byte[] codes, int b, int h, Operands in) {
        int seqLen = in.seqLen(), heads = in.heads(), d = in.headDim();
        byte[] x = new byte[seqLen * d];
        for (int j = 0; j < seqLen; j++) {
            System.arraycopy(codes, ((b * seqLen + j) * heads + h) * d, x, j * d, d);
        }
        return x;
    }

    /** The E4M3 codes' values of head h of batch row b, [L, D] (no scale). */
    private static float[] values(byte[] codes, int b, int h, Operands in) {
        int seqLen = in.seqLen(), heads = in.heads(), d = in.headDim();
        float[] x = new float[seqLen * d];
        for (int j = 0; j < seqLen; j++) {
            int at = ((b * seqLen + j) * heads + h) * d;
            for (int e = 0; e < d; e++) {
                x[j * d + e] = Fp8E4M3.decode(codes[at + e]);
            }
        }
        return x;
    }

    private static float exp2(float x) {
        float y = (float) Math.pow(2, x);
        return y < Float.MIN_NORMAL ? 0f : y;   // ex2.approx.ftz flushes subnormal results
    }

    /** The INT8 code of x (already scaled): rint, ties to even, clamped to ±127. */
    public static byte int8(float x) {
        return (byte) Math.max(-127, Math.min(127, (int) Math.rint(x)));
    }

    private static float int8Scale(float amax) {
        return amax == 0f ? 1f : amax / 127f;
    }

    private static float int8Inverse(float amax) {
        return amax == 0f ? 0f : 127f / amax;
    }

    private static float scale(float amax) {
        return amax == 0f ? 1f : amax / Fp8E4M3.MAX;
    }

    private static float inverse(float amax) {
        return amax == 0f ? 0f : Fp8E4M3.MAX / amax;
    }
}
