package io.sparserender.engine.vae;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.testing.SharedFixtures;
import org.junit.jupiter.api.Test;

/** Both decoders against diffusers' {@code AutoencoderKLWan.decode} on the shared fixtures, through the real loader. */
class WanVaeDecoderFixtureTest {
    private final CpuOps ops = new CpuOps();

    @Test
    void wan21DecoderMatchesDiffusers() {
        assertMatches("wan-vae21");
    }

    @Test
    void wan22DecoderMatchesDiffusersWithBf16Weights() {
        assertMatches("wan-vae22");
    }

    private void assertMatches(String fixture) {
        WanVaeDecoder<Tensor> decoder = WanVaeDecoder.load(ops, SharedFixtures.path(fixture + "/vae"));
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path(fixture + "/case-decode.safetensors"))) {
            Tensor expected = f.readTensor("expected");
            long start = System.nanoTime();
            Tensor out = decoder.decode(f.readTensor("z"));
            double ms = (System.nanoTime() - start) / 1e6;
            assertThat(out.shape()).containsExactly(expected.shape());
            double err = relL2(out.data(), expected.data());
            System.out.printf("%s decode: rel L2 %.3e, %.0f ms%n", fixture, err, ms);
            assertThat(err).isLessThan(1e-4);
        }
    }

    static double relL2(float[] got, float[] want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < got.length; i++) {
            double d = got[i] - (double) want[i];
            num += d * d;
            den += (double) want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }
}
