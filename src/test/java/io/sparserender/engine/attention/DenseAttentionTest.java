package io.sparserender.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.testing.SharedFixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class DenseAttentionTest {
    /** softmax(q kᵀ / √D) v, computed directly in float64 from the float32 inputs. */
    static double[] direct(QkvInput in) {
        int bsz = in.batch(), seqLen = in.seqLen(), heads = in.heads(), dim = in.headDim();
        float[] q = in.q().data(), k = in.k().data(), v = in.v().data();
        double[] o = new double[q.length];
        double[] s = new double[seqLen];
        for (int b = 0; b < bsz; b++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < seqLen; i++) {
                    int qi = ((b * seqLen + i) * heads + h) * dim;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < seqLen; j++) {
                        int kj = ((b * seqLen + j) * heads + h) * dim;
                        double dot = 0;
                        for (int d = 0; d < dim; d++) {
                            dot += (double) q[qi + d] * k[kj + d];
                        }
                        s[j] = dot / Math.sqrt(dim);
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < seqLen; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int j = 0; j < seqLen; j++) {
                        int vj = ((b * seqLen + j) * heads + h) * dim;
                        for (int d = 0; d < dim; d++) {
                            o[qi + d] += s[j] / sum * v[vj + d];
                        }
                    }
                }
            }
        }
        return o;
    }

    static double relL2(float[] got, double[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }

    @ParameterizedTest(name = "D={0} L={1} br={2} bc={3}")
    @CsvSource({"64, 203, 64, 64", "128, 203, 64, 32", "64, 130, 16, 48", "128, 97, 128, 128"})
    void denseMatchesDirectFloat64Softmax(int dim, int seqLen, int br, int bc) {
        QkvInput in = VideoLikeInputs.random(2, seqLen, 3, dim, 1.5, 11 + dim + seqLen);
        AttentionResult r = TiledAttention.run(in, PolicySpec.parse("dense:br=" + br + ",bc=" + bc), AttentionOptions.NONE);
        assertThat(relL2(r.o().data(), direct(in))).isLessThanOrEqualTo(1e-5);
        assertThat(r.stats().tileSparsity()).isZero();
        assertThat(r.stats().computeSaved()).isZero();
    }

    @Test
    void denseMatchesDirectOnVideoLikeInputs() {
        QkvInput in = VideoLikeInputs.videoLike(2, new VideoGrid(3, 9, 11), 3, 128, VideoLikeInputs.Knobs.defaults(), 5);
        AttentionResult r = TiledAttention.run(in, PolicySpec.parse("dense"), AttentionOptions.NONE);
        assertThat(relL2(r.o().data(), direct(in))).isLessThanOrEqualTo(1e-5);
    }

    @Test
    void denseMatchesPyTorchFixture() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path("attn-d128.safetensors"))) {
            QkvInput in = new QkvInput(f.readTensor("q"), f.readTensor("k"), f.readTensor("v"));
            Tensor expected = f.readTensor("o");
            assertThat(in.seqLen()).isEqualTo(517);
            AttentionResult r = TiledAttention.run(in, PolicySpec.parse("dense"), AttentionOptions.NONE);
            double[] want = new double[expected.numel()];
            for (int i = 0; i < want.length; i++) {
                want[i] = expected.data()[i];
            }
            assertThat(r.o().shape()).containsExactly(expected.shape());
            assertThat(relL2(r.o().data(), want)).isLessThanOrEqualTo(1e-5);
        }
    }

    @Test
    void exactStatsOfDenseAreOneAndZero() {
        QkvInput in = VideoLikeInputs.random(1, 150, 2, 64, 1, 3);
        AttentionResult r = TiledAttention.run(in, PolicySpec.parse("dense:br=32,bc=32"), AttentionOptions.NONE);
        AttentionStats s = ExactRecall.of(in, r);
        assertThat(s.recallMin()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(s.recallMean()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(s.relL2VsDense()).isLessThan(1e-5);
    }
}
