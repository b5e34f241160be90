package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.gpu.CudaOps;
import io.sparserender.engine.gpu.DeviceArena;
import io.sparserender.engine.gpu.DeviceBuffer;
import io.sparserender.engine.gpu.OpTimer;
import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.pipeline.CudaSelfAttention;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.testing.GpuTestDevice;
import io.sparserender.testing.RequiresGpu;
import io.sparserender.testing.SharedFixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The DiT forward on the CUDA backend (bf16 weights and GEMM operands, fp32 residual stream) against the
 * CPU forward and against diffusers' own outputs on the shared fixture checkpoints, through the real
 * loader; self-attention through the policy kernel (dense) and through the dense attention kernel.
 */
@RequiresGpu
@SuppressWarnings("try")
class WanCudaForwardGpuTest {
    @ParameterizedTest(name = "{0}/{1} policy-kernel={2}")
    @CsvSource({
        "wan-dit-h128, case-scalar-t, true",
        "wan-dit-h128, case-token-t, true",
        "wan-dit-h128, case-scalar-t, false",
        "wan-dit-ti2v, case-scalar-t, true",
        "wan-dit-ti2v, case-token-t, false",
    })
    void cudaForwardMatchesCpuAndDiffusersWithinBf16(String model, String fixtureCase, boolean policyKernel) {
        CudaOps g = GpuTestDevice.cudaOps();
        CpuOps cpu = new CpuOps();
        WanModelDir dir = WanModelDir.resolve(SharedFixtures.path(model));
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path(model + "/" + fixtureCase + ".safetensors"));
             DeviceArena.Scope scope = g.device().arena().scope()) {
            Tensor hidden = f.readTensor("hidden_states");
            Tensor text = f.readTensor("encoder_hidden_states");
            Timesteps t = Timesteps.of(f.readTensor("timestep"));
            Tensor expected = f.readTensor("expected");

            WanTransformer<Tensor> cpuDit = new WanTransformer<>(cpu, dir.experts().get(0).load(cpu), SelfAttention.dense());
            Tensor cpuOut = cpuDit.forward(hidden, t, cpuDit.encodePrompt(text, false));

            GpuTestDevice.poisonFreeArena();
            Tensor gpuOut = g.device().call(() -> {
                SelfAttention<DeviceBuffer> attention = policyKernel ? CudaSelfAttention.forSpec("dense", OpTimer.OFF)
                        : SelfAttention.dense();
                WanTransformer<DeviceBuffer> dit = new WanTransformer<>(g, dir.experts().get(0).load(g), attention);
                DeviceBuffer out = dit.forward(g.fromHost(hidden), t, dit.encodePrompt(g.fromHost(text), false));
                return g.toHost(out);
            });
            double vsCpu = WanFixtureTest.relL2(gpuOut, cpuOut);
            double vsDiffusers = WanFixtureTest.relL2(gpuOut, expected);
            System.out.printf("%s/%s policy-kernel=%s: CUDA vs CPU rel L2 %.3e, vs diffusers %.3e%n", model, fixtureCase,
                    policyKernel, vsCpu, vsDiffusers);
            for (float v : gpuOut.data()) {
                assertThat(Float.isFinite(v)).isTrue();
            }
            assertThat(vsCpu).isLessThan(2e-2);
            assertThat(vsDiffusers).isLessThan(2e-2);
        }
    }
}
