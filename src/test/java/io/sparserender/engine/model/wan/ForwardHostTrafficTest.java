package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.testing.CountingCpuOps;
import io.sparserender.testing.SharedFixtures;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * What a DiT forward asks of the host, on a backend that counts it: nothing is read back (a read-back stops
 * the device's queue) and nothing per token is uploaded (a per-token table built and copied on the host
 * leaves the device idle meanwhile: the RoPE tables once cost tens of milliseconds per forward at 27,280 tokens).
 */
class ForwardHostTrafficTest {
    @Test
    void aForwardReadsNothingBackAndUploadsNothingPerToken() {
        CpuOps cpu = new CpuOps();
        WanWeights<Tensor> w = WanModelDir.resolve(SharedFixtures.path("wan-dit-h128")).experts().get(0).load(cpu);
        WanConfig c = w.config();
        Counting ops = new Counting();
        WanTransformer<Tensor> dit = new WanTransformer<>(ops, w, SelfAttention.dense());
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path("wan-dit-h128/case-scalar-t.safetensors"))) {
            WanTransformer.Prompt<Tensor> prompt = dit.encodePrompt(f.readTensor("encoder_hidden_states"), false);
            int batch = prompt.batch();
            int frames = 3, rows = 10, cols = 14; // latent size: a 3 × 5 × 7 token grid
            Tensor latents = WanPresetTest.random(new SplittableRandom(11), batch, c.inChannels(), frames, rows, cols);
            int tokens = frames * (rows / c.patchH()) * (cols / c.patchW());
            ops.uploadedValues = 0;
            ops.readBacks = 0;
            Tensor out = dit.forward(latents, Timesteps.uniform(batch, 500), prompt, 0);
            assertThat(out.shape()).containsExactly(batch, c.outChannels(), frames, rows, cols);

            assertThat(ops.readBacks).as("device-to-host reads inside a forward").isZero();
            // one RoPE table alone is tokens × headDim/2 values; the time sinusoid is batch × freqDim
            long perTokenTable = (long) tokens * c.headDim() / 2;
            assertThat(ops.uploadedValues).as("values uploaded from the host by one forward")
                    .isLessThan(perTokenTable)
                    .isGreaterThanOrEqualTo((long) batch * c.freqDim());
        }
    }

    /** CountingCpuOps whose zeros are made on the "device" (backends fill them there, not from the host). */
    private static final class Counting extends CountingCpuOps {
        @Override
        public Tensor zeros(int... shape) {
            return cpu.zeros(shape);
        }
    }
}
