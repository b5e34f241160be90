package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WanPresetTest {
    static final Path MODELS = Path.of("conf", "models");

    @TempDir
    Path tmp;

    @Test
    void releasedPresetsHaveThePublishedShapesAndParameterCounts() {
        WanPreset p13 = WanPreset.load(MODELS, "wan2.1-t2v-1.3b");
        WanPreset p5 = WanPreset.load(MODELS, "wan2.2-ti2v-5b");
        WanPreset a14 = WanPreset.load(MODELS, "wan2.2-t2v-a14b");
        for (WanPreset p : new WanPreset[] {p13, p5, a14}) {
            // the parameter count implied by every expected tensor, within 0.5% of the published one
            assertThat((double) p.transformer().parameterCount()).as(p.name()).isCloseTo(p.parameters(), within(p.parameters() * 0.005));
            assertThat(p.transformer().headDim()).isEqualTo(128);
            assertThat(p.transformer().textLen()).isEqualTo(512);
        }
        assertThat(p5.transformer().inChannels()).isEqualTo(48);
        assertThat(p5.transformer().dim()).isEqualTo(3072);
        assertThat(a14.experts()).containsExactly("transformer", "transformer_2");
        assertThat(a14.boundaryRatio()).isEqualTo(0.875);
        assertThat(a14.defaults().guidance()).containsExactly(4.0, 3.0);
        assertThat(p13.boundaryRatio()).isNull();
    }

    @Test
    void a14bSwitchesExpertsAfterTwentySixOfFortyStepsWithShiftTwelve() {
        WanPreset a14 = WanPreset.load(MODELS, "wan2.2-t2v-a14b");
        int steps = a14.defaults().steps();
        double shift = a14.defaults().shift();
        int high = 0;
        for (int i = 0; i < steps; i++) {
            double sigma = 0.999 - 0.999 * i / steps; // the official grid: linspace(0.999, 0, N + 1) without the last
            double shifted = shift * sigma / (1 + (shift - 1) * sigma);
            if (a14.expertFor((int) Math.floor(shifted * 1000)) == 0) {
                high++;
            }
        }
        assertThat(high).isEqualTo(26);
        assertThat(a14.expertFor(875)).isZero();
        assertThat(a14.expertFor(874)).isEqualTo(1);
        assertThat(WanPreset.load(MODELS, "wan2.2-ti2v-5b").expertFor(100)).isZero();
    }

    @Test
    void wanTinyIsAFewMegabytesDeterministicAndRunsThroughTheRealLoader() throws IOException {
        WanPreset tiny = WanPreset.load(MODELS, "wan-tiny");
        WanTiny.write(tiny, tmp.resolve("a"));
        WanTiny.write(tiny, tmp.resolve("b"));
        Path weights = tmp.resolve("a/diffusion_pytorch_model.safetensors");
        assertThat(Files.size(weights)).isBetween(1L << 20, 8L << 20);
        assertThat(Files.readAllBytes(weights)).isEqualTo(Files.readAllBytes(tmp.resolve("b/diffusion_pytorch_model.safetensors")));

        WanModelDir dir = WanModelDir.resolve(tmp.resolve("a"));
        assertThat(dir.experts().get(0).config()).isEqualTo(tiny.transformer());
        CpuOps ops = new CpuOps();
        WanTransformer<Tensor> dit = new WanTransformer<>(ops, dir.experts().get(0).load(ops), SelfAttention.dense());
        WanConfig c = tiny.transformer();
        Tensor latents = random(new SplittableRandom(1), 1, c.inChannels(), 2, 4, 6);
        WanTransformer.Prompt<Tensor> prompt = dit.encodePrompt(random(new SplittableRandom(2), 1, 7, c.textDim()));
        assertThat(prompt.padded()).isTrue();
        assertThat(prompt.rows()).isEqualTo(512);
        Tensor early = dit.forward(latents, Timesteps.uniform(1, 900), prompt);
        Tensor late = dit.forward(latents, Timesteps.uniform(1, 100), prompt);
        assertThat(early.shape()).containsExactly(1, c.outChannels(), 2, 4, 6);
        double rms = 0;
        double diff = 0;
        for (int i = 0; i < early.numel(); i++) {
            assertThat(Float.isFinite(early.data()[i])).isTrue();
            rms += early.data()[i] * early.data()[i];
            diff += Math.abs(early.data()[i] - late.data()[i]);
        }
        rms = Math.sqrt(rms / early.numel());
        assertThat(rms).as("output RMS of the random model").isBetween(0.05, 20.0);
        assertThat(diff).as("the timestep changes the output").isGreaterThan(0);

        WanTiny.write(tiny.transformer(), tiny.generator().seed() + 1, tiny.generator().dtype(), tmp.resolve("c"));
        assertThat(Files.readAllBytes(tmp.resolve("c/diffusion_pytorch_model.safetensors"))).isNotEqualTo(Files.readAllBytes(weights));
    }

    static Tensor random(SplittableRandom r, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) {
            t.data()[i] = (float) (2 * r.nextDouble() - 1);
        }
        return t;
    }
}
