package io.sparserender.engine.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.testing.SharedFixtures;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CpuOpsTest {
    private final CpuOps ops = new CpuOps();

    static Tensor random(long seed, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return new Tensor(a, shape);
    }

    static double relL2(float[] got, float[] want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < got.length; i++) {
            num += (got[i] - (double) want[i]) * (got[i] - (double) want[i]);
            den += (double) want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }

    @Test
    void denseAttentionMatchesPyTorchFixture() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path("attn-d128.safetensors"))) {
            Tensor o = ops.attention(f.readTensor("q"), f.readTensor("k"), f.readTensor("v"),
                    (float) (1 / Math.sqrt(128)), null, null);
            assertThat(relL2(o.data(), f.readFloats("o"))).isLessThan(1e-5);
        }
    }

    @Test
    void broadcastingFollowsNumPy() {
        Tensor a = new Tensor(new float[] {1, 2, 3, 4, 5, 6}, 2, 1, 3);
        Tensor b = new Tensor(new float[] {10, 20}, 2, 1);
        Tensor s = ops.add(a, b);
        assertThat(s.shape()).containsExactly(2, 2, 3);
        assertThat(s.data()).containsExactly(11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26);
        assertThat(ops.mul(a, new Tensor(new float[] {2}, 1)).data()).containsExactly(2, 4, 6, 8, 10, 12);
        assertThatThrownBy(() -> ops.add(a, new Tensor(new float[4], 4)))
                .hasMessage("Cannot broadcast shapes [2, 1, 3] and [4]");
    }

    @Test
    void permuteSliceConcatAgreeWithIndexing() {
        Tensor t = random(1, 2, 3, 4);
        Tensor p = ops.permute(t, 2, 0, 1);
        assertThat(p.shape()).containsExactly(4, 2, 3);
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                for (int k = 0; k < 4; k++) {
                    assertThat(p.data()[(k * 2 + i) * 3 + j]).isEqualTo(t.data()[(i * 3 + j) * 4 + k]);
                }
            }
        }
        Tensor a = ops.slice(t, 1, 0, 1);
        Tensor b = ops.slice(t, 1, 1, 3);
        assertThat(ops.concat(1, a, b).data()).containsExactly(t.data());
    }

    @Test
    void normsAndLinearMatchDirectFormulas() {
        Tensor x = random(2, 5, 7);
        Tensor g = random(3, 7);
        Tensor ln = ops.layerNorm(x, g, null, 1e-6f);
        Tensor rms = ops.rmsNorm(x, null, 1e-6f);
        for (int r = 0; r < 5; r++) {
            double mean = 0;
            double ss = 0;
            for (int i = 0; i < 7; i++) {
                mean += x.data()[r * 7 + i] / 7.0;
                ss += x.data()[r * 7 + i] * (double) x.data()[r * 7 + i] / 7.0;
            }
            double var = ss - mean * mean;
            for (int i = 0; i < 7; i++) {
                double v = x.data()[r * 7 + i];
                assertThat((double) ln.data()[r * 7 + i]).isCloseTo((v - mean) / Math.sqrt(var + 1e-6) * g.data()[i], within(1e-5));
                assertThat((double) rms.data()[r * 7 + i]).isCloseTo(v / Math.sqrt(ss + 1e-6), within(1e-5));
            }
        }
        Tensor w = random(4, 3, 7);
        Tensor bias = random(5, 3);
        Tensor y = ops.linear(x, w, bias);
        assertThat(y.shape()).containsExactly(5, 3);
        double s = bias.data()[2];
        for (int k = 0; k < 7; k++) {
            s += x.data()[4 * 7 + k] * (double) w.data()[2 * 7 + k];
        }
        assertThat((double) y.data()[4 * 3 + 2]).isCloseTo(s, within(1e-5));
    }

    @Test
    void attentionMaskAndBiasBehave() {
        Tensor q = random(6, 1, 3, 2, 4);
        Tensor k = random(7, 1, 5, 2, 4);
        Tensor v = random(8, 1, 5, 2, 4);
        // Masking the last two keys equals attending to the first three only.
        Tensor mask = new Tensor(new float[] {1, 1, 1, 0, 0}, 1, 5);
        Tensor masked = ops.attention(q, k, v, 0.5f, null, mask);
        Tensor cut = ops.attention(q, ops.slice(k, 1, 0, 3), ops.slice(v, 1, 0, 3), 0.5f, null, null);
        assertThat(relL2(masked.data(), cut.data())).isLessThan(1e-6);
        // A very negative bias on a key acts as a mask.
        float[] bias = new float[2 * 3 * 5];
        for (int i = 0; i < bias.length; i++) {
            bias[i] = i % 5 >= 3 ? -1e4f : 0f;
        }
        Tensor biased = ops.attention(q, k, v, 0.5f, new Tensor(bias, 2, 3, 5), null);
        assertThat(relL2(biased.data(), cut.data())).isLessThan(1e-6);
    }
}
