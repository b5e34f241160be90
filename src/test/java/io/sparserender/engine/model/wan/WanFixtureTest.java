package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.testing.SharedFixtures;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The CPU forward against diffusers' own outputs (float64) on the shared random checkpoints. */
class WanFixtureTest {
    static final CpuOps OPS = new CpuOps();

    @ParameterizedTest(name = "{0}/{1} collapse={2}")
    @CsvSource({
        "wan-dit-h128, case-scalar-t, true",
        "wan-dit-h128, case-token-t, true",
        "wan-dit-h128, case-token-t, false",
        "wan-dit-ti2v, case-scalar-t, true",
        "wan-dit-ti2v, case-token-t, true",
        "wan-dit-ti2v, case-token-t, false",
    })
    void forwardMatchesDiffusers(String model, String fixtureCase, boolean collapse) {
        WanModelDir dir = WanModelDir.resolve(SharedFixtures.path(model));
        WanTransformer<Tensor> dit = new WanTransformer<>(OPS, dir.experts().get(0).load(OPS), SelfAttention.dense());
        dit.collapseConstantTimesteps(collapse);
        double err = relativeError(dit, SharedFixtures.path(model + "/" + fixtureCase + ".safetensors"));
        System.out.printf("%s/%s collapse=%s: relative L2 error %.3e%n", model, fixtureCase, collapse, err);
        assertThat(err).isLessThan(1e-4);
    }

    @org.junit.jupiter.api.Test
    void perTokenTimestepsThatDifferAcrossTheBatchGiveTheScalarResult() {
        WanTransformer<Tensor> dit = new WanTransformer<>(OPS,
                WanModelDir.resolve(SharedFixtures.path("wan-dit-h128")).experts().get(0).load(OPS), SelfAttention.dense());
        dit.collapseConstantTimesteps(false);
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path("wan-dit-h128/case-scalar-t.safetensors"))) {
            Tensor t = f.readTensor("timestep"); // [2]: 981, 137
            double[] perToken = new double[2 * 72];
            for (int i = 0; i < perToken.length; i++) {
                perToken[i] = t.data()[i / 72];
            }
            Tensor out = dit.forward(f.readTensor("hidden_states"), new Timesteps(perToken, 2, 72),
                    dit.encodePrompt(f.readTensor("encoder_hidden_states"), false));
            assertThat(relL2(out, f.readTensor("expected"))).isLessThan(1e-4);
        }
    }

    /** Runs one fixture case and returns ‖out − expected‖ / ‖expected‖. */
    static double relativeError(WanTransformer<Tensor> dit, Path fixture) {
        try (SafetensorsFile f = SafetensorsFile.open(fixture)) {
            // The fixtures' expected outputs are diffusers' transformer called on the unpadded rows.
            WanTransformer.Prompt<Tensor> prompt = dit.encodePrompt(f.readTensor("encoder_hidden_states"), false);
            assertThat(prompt.padded()).isFalse();
            Tensor out = dit.forward(f.readTensor("hidden_states"), Timesteps.of(f.readTensor("timestep")), prompt);
            Tensor expected = f.readTensor("expected");
            assertThat(out.shape()).isEqualTo(expected.shape());
            return relL2(out, expected);
        }
    }

    static double relL2(Tensor a, Tensor b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.numel(); i++) {
            double diff = (double) a.data()[i] - b.data()[i];
            num += diff * diff;
            den += (double) b.data()[i] * b.data()[i];
        }
        return Math.sqrt(num / den);
    }
}
