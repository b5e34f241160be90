package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
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
            ops.uploaded = 0;
            ops.readBacks = 0;
            Tensor out = dit.forward(latents, Timesteps.uniform(batch, 500), prompt, 0);
            assertThat(out.shape()).containsExactly(batch, c.outChannels(), frames, rows, cols);

            assertThat(ops.readBacks).as("device-to-host reads inside a forward").isZero();
            // one RoPE table alone is tokens × headDim/2 values; the time sinusoid is batch × freqDim
            long perTokenTable = (long) tokens * c.headDim() / 2;
            assertThat(ops.uploaded).as("values uploaded from the host by one forward")
                    .isLessThan(perTokenTable)
                    .isGreaterThanOrEqualTo((long) batch * c.freqDim());
        }
    }

    /** CpuOps behind a counter of host uploads (values) and read-backs; zeros are made on the "device". */
    private static final class Counting implements Ops<Tensor> {
        private final CpuOps cpu = new CpuOps();
        long uploaded;
        int readBacks;

        @Override public String backend() { return "counting"; }
        @Override public Tensor fromHost(Tensor t) { uploaded += t.numel(); return t; }
        @Override public Tensor toHost(Tensor t) { readBacks++; return t; }
        @Override public Tensor zeros(int... shape) { return cpu.zeros(shape); }
        @Override public int[] shape(Tensor t) { return t.shape(); }
        @Override public Tensor reshape(Tensor t, int... shape) { return cpu.reshape(t, shape); }
        @Override public Tensor permute(Tensor t, int... axes) { return cpu.permute(t, axes); }
        @Override public Tensor slice(Tensor t, int dim, int start, int end) { return cpu.slice(t, dim, start, end); }
        @Override public Tensor concat(int dim, java.util.List<Tensor> parts) { return cpu.concat(dim, parts); }
        @Override public Tensor add(Tensor a, Tensor b) { return cpu.add(a, b); }
        @Override public Tensor sub(Tensor a, Tensor b) { return cpu.sub(a, b); }
        @Override public Tensor mul(Tensor a, Tensor b) { return cpu.mul(a, b); }
        @Override public Tensor addScalar(Tensor a, float s) { return cpu.addScalar(a, s); }
        @Override public Tensor scale(Tensor a, float s) { return cpu.scale(a, s); }
        @Override public Tensor silu(Tensor a) { return cpu.silu(a); }
        @Override public Tensor geluTanh(Tensor a) { return cpu.geluTanh(a); }
        @Override public Tensor layerNorm(Tensor x, Tensor g, Tensor b, float eps) { return cpu.layerNorm(x, g, b, eps); }
        @Override public Tensor rmsNorm(Tensor x, Tensor g, float eps) { return cpu.rmsNorm(x, g, eps); }
        @Override public Tensor softmax(Tensor x) { return cpu.softmax(x); }
        @Override public Tensor linear(Tensor x, Tensor w, Tensor b) { return cpu.linear(x, w, b); }
        @Override public Tensor attention(Tensor q, Tensor k, Tensor v, float s, Tensor b, Tensor m) {
            return cpu.attention(q, k, v, s, b, m);
        }
    }
}
