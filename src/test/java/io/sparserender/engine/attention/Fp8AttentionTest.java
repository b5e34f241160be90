package io.sparserender.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.ops.reference.Fp8E4M3;
import io.sparserender.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The 8-bit attention twin ({@link Fp8Attention}) against float64 attention on the unquantized inputs: its error is
 * the quantization's, a few percent of the output's norm (measured 3.2–3.6 %: E4M3's V and P), not zero and not more;
 * its log-sum-exp within a quarter nat (measured ≤ 0.02 on random rows, 0.13–0.15 on the peaked video-like rows,
 * where E4M3 Q and K gave 0.56–0.64); and the scales are where the kernel applies them (Q per row, K per 128-key block, V per channel), each
 * mapping its group's largest magnitude to ±448.
 */
class Fp8AttentionTest {
    @ParameterizedTest(name = "{0} L={1}")
    @CsvSource({"random, 1", "random, 200", "video, 300", "video, 517"})
    void isFloat64AttentionWithinTheQuantizationError(String kind, int seqLen) {
        QkvInput in = input(kind, seqLen, 2, 3);
        Fp8Attention.Result got = Fp8Attention.forward(Fp8Attention.quantize(in), (float) (1 / Math.sqrt(128)));
        DenseReference exact = DenseReference.compute(in, 64);
        double[] want = exact.output();
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            num += (got.out()[i] - want[i]) * (got.out()[i] - want[i]);
            den += want[i] * want[i];
        }
        double rel = Math.sqrt(num / den);
        assertThat(rel).as(kind + " L " + seqLen + ": rel. L2 error").isLessThan(0.06);
        if (seqLen > 1) {
            assertThat(rel).as("quantized: not bit-equal to float64").isGreaterThan(1e-4);
        }
        double[] lse = exactLse(in);
        for (int i = 0; i < lse.length; i++) {
            assertThat((double) got.lse()[i]).as("lse " + i).isCloseTo(lse[i], org.assertj.core.data.Offset.offset(0.25));
        }
    }

    @Test
    void scalesMapEachGroupsLargestMagnitudeTo448() {
        int seqLen = 300, heads = 2, d = 128;
        QkvInput in = input("random", seqLen, 1, heads);
        float[] q = in.q().data(), k = in.k().data(), v = in.v().data();
        Fp8Attention.Operand q8 = Fp8Attention.quantizeQ(q, 1, seqLen, heads, d);
        Fp8Attention.Operand k8 = Fp8Attention.quantizeK(k, 1, seqLen, heads, d);
        Fp8Attention.Operand v8 = Fp8Attention.quantizeV(v, 1, seqLen, heads, d);
        assertThat(q8.scales()).hasSize(heads * seqLen);
        assertThat(k8.scales()).hasSize(heads * 3);
        assertThat(v8.scales()).hasSize(heads * d);
        // Q row 5 of head 1, K block 2 of head 0 (keys 256..299), V channel 7 of head 1
        float qmax = 0;
        for (int c = 0; c < d; c++) {
            qmax = Math.max(qmax, Math.abs(q[(5 * heads + 1) * d + c]));
        }
        assertThat(q8.scales()[seqLen + 5]).isEqualTo(qmax / 127f);
        float kmax = 0;
        for (int j = 256; j < seqLen; j++) {
            for (int c = 0; c < d; c++) {
                kmax = Math.max(kmax, Math.abs(k[(j * heads) * d + c]));
            }
        }
        assertThat(k8.scales()[2]).isEqualTo(kmax / 127f);
        float vmax = 0;
        int at = -1;
        for (int j = 0; j < seqLen; j++) {
            int i = (j * heads + 1) * d + 7;
            if (Math.abs(v[i]) > vmax) {
                vmax = Math.abs(v[i]);
                at = i;
            }
        }
        assertThat(v8.scales()[d + 7]).isEqualTo(vmax / 448f);
        assertThat(Math.abs(Fp8E4M3.decode(v8.codes()[at]))).isEqualTo(448f);
        // each code stands for its value within E4M3's half step (2^-4 relative) or its smallest subnormal step
        for (int j = 0; j < seqLen; j++) {
            int i = (j * heads + 1) * d + 7;
            double back = Fp8E4M3.decode(v8.codes()[i]) * (double) v8.scales()[d + 7];
            assertThat(Math.abs(back - v[i])).isLessThanOrEqualTo(Math.abs(v[i]) / 16 + vmax / 448 * 0x1p-10 + 1e-12);
        }
    }

    @Test
    void zeroGroupsGetScaleOneAndZeroCodes() {
        int seqLen = 130, heads = 1, d = 128;
        float[] x = new float[seqLen * d];
        for (int i = 0; i < 128 * d; i++) {
            x[i] = (i % 7) - 3;   // block 0 nonzero, block 1 (keys 128, 129) zero
        }
        Fp8Attention.Operand k8 = Fp8Attention.quantizeK(x, 1, seqLen, heads, d);
        assertThat(k8.scales()[0]).isEqualTo(3f / 127f);
        assertThat(k8.scales()[1]).isEqualTo(1f);
        for (int i = 128 * d; i < x.length; i++) {
            assertThat(k8.codes()[i]).isZero();
        }
        Fp8Attention.Operand q8 = Fp8Attention.quantizeQ(x, 1, seqLen, heads, d);
        assertThat(q8.scales()[129]).isEqualTo(1f);
    }

    @Test
    void theListedForwardOverEveryTileInOrderIsTheDenseForwardUpToPairing() {
        // the natural list of 64-key tiles, paired, visits the same keys in the same 128-key blocks as the dense
        // forward; only the per-tile K scale lookup differs in form (tile 2i and 2i + 1 share block i's scale)
        int seqLen = 300, heads = 2;
        QkvInput in = input("video", seqLen, 1, heads);
        Fp8Attention.Operands ops = Fp8Attention.quantize(in);
        int nk = (seqLen + 63) / 64, nq = (seqLen + 127) / 128;
        int[] list = new int[nq * nk];
        int[] count = new int[heads * nq];
        for (int qt = 0; qt < nq; qt++) {
            for (int i = 0; i < nk; i++) {
                list[qt * nk + i] = i;
            }
        }
        java.util.Arrays.fill(count, nk);
        float scale = (float) (1 / Math.sqrt(128));
        Fp8Attention.Result dense = Fp8Attention.forward(ops, scale);
        Fp8Attention.Result listed = Fp8Attention.forwardListed(ops, scale, list, count, 0);
        assertThat(listed.out()).containsExactly(dense.out());
        assertThat(listed.lse()).containsExactly(dense.lse());
    }

    @Test
    void aListedTileOffTheListGetsNoMass() {
        // one 128-row q-tile whose list holds only kv-tile 3 (keys 192-255): each row is attention over those keys alone
        int seqLen = 256, heads = 1;
        QkvInput in = input("random", seqLen, 1, heads);
        Fp8Attention.Operands ops = Fp8Attention.quantize(in);
        int nk = 4, nq = 2;
        int[] list = new int[nq * nk];
        list[0] = 3;
        list[nk] = 3;
        int[] count = {1, 1};
        float scale = (float) (1 / Math.sqrt(128));
        Fp8Attention.Result listed = Fp8Attention.forwardListed(ops, scale, list, count, 0);
        // the same keys as a sequence of their own: V's per-channel scales are the full sequence's, so compare the
        // normalized weights' effect through lse only (one tile: lse = log Σ over its 64 keys)
        for (int i = 0; i < seqLen; i++) {
            double sum = 0;
            for (int j = 192; j < 256; j++) {
                double dot = 0;
                for (int x = 0; x < 128; x++) {
                    dot += (double) in.q().data()[i * 128 + x] * in.k().data()[j * 128 + x];
                }
                sum += Math.exp(dot * scale);
            }
            assertThat((double) listed.lse()[i]).as("row %d", i).isCloseTo(Math.log(sum), org.assertj.core.data.Offset.offset(0.05));
        }
    }

    static QkvInput input(String kind, int seqLen, int batch, int heads) {
        long seed = 77 + seqLen;
        QkvInput raw = kind.equals("video")
                ? VideoLikeInputs.videoLike(batch, new VideoGrid(1, 1, seqLen), heads, 128, VideoLikeInputs.Knobs.defaults(), seed)
                : VideoLikeInputs.random(batch, seqLen, heads, 128, 1.0, seed);
        return new QkvInput(bf16(raw.q()), bf16(raw.k()), bf16(raw.v()));
    }

    private static Tensor bf16(Tensor t) {
        float[] x = t.data().clone();
        for (int i = 0; i < x.length; i++) {
            int bits = Float.floatToRawIntBits(x[i]);
            x[i] = Float.intBitsToFloat((bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000);
        }
        return new Tensor(x, t.shape());
    }

    /** ln Σ_j e^(q·k_j / √D) per row, [B, H, L], in double. */
    private static double[] exactLse(QkvInput in) {
        int bsz = in.batch(), seqLen = in.seqLen(), heads = in.heads(), d = in.headDim();
        double[] out = new double[bsz * heads * seqLen];
        float[] q = in.q().data(), k = in.k().data();
        for (int b = 0; b < bsz; b++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < seqLen; i++) {
                    double[] s = new double[seqLen];
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < seqLen; j++) {
                        double dot = 0;
                        for (int e = 0; e < d; e++) {
                            dot += (double) q[in.offset(b, i, h) + e] * k[in.offset(b, j, h) + e];
                        }
                        s[j] = dot / Math.sqrt(d);
                        mx = Math.max(mx, s[j]);
                    }
                    double sum = 0;
                    for (double x : s) {
                        sum += Math.exp(x - mx);
                    }
                    out[(b * heads + h) * seqLen + i] = mx + Math.log(sum);
                }
            }
        }
        return out;
    }
}
