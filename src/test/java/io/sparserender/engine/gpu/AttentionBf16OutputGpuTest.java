package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.poisoned;
import static io.sparserender.testing.GpuTestDevice.roundBf16;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.tensor.DType;
import io.sparserender.testing.RequiresGpu;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The ws kernels' bf16 output (what the DiT's self-attention asks for where {@link CudaAttention#writesBf16} says so):
 * every element written (the buffer is poisoned first), and each the float32 output of the same call rounded to
 * nearest even, bit for bit (the kernel rounds the same O / l it would store in float32). Kernels that write float32
 * only refuse a bf16 buffer by name. Awkward sizes: L = 1, 129 (a last key block of one key) and 517.
 */
@RequiresGpu
@SuppressWarnings("try")
class AttentionBf16OutputGpuTest {
    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource(delimiter = '|', value = {
        "video  | 1x11x47 | dense:br=64,bc=64",
        "random | 1x1x1   | dense:br=64,bc=64",
        "video  | 3x3x43  | dynsparse:lambda=-9,br=64,bc=32",
        "video  | 1x11x47 | recall:r=0.95,bound=max,br=64,bc=64",
        "video  | 1x3x43  | hybrid:r=0.95,br=64,bc=64",
        "random | 1x7x9   | topk:k=1,br=64,bc=64",
    })
    void isTheFloat32OutputRounded(String kind, String grid, String spec) {
        VideoGrid g = VideoGrid.parse(grid);
        QkvInput in = AttentionPlanGpuTest.input(kind, 2, g, 2, 128, "bf16 output " + kind + " " + grid + " " + spec);
        AttentionPolicy policy = PolicySpec.parse(spec);
        int[] shape = in.q().shape();
        CudaKernels ops = ops();
        for (AttentionKernel family : new AttentionKernel[] {AttentionKernel.WS, AttentionKernel.WG1, AttentionKernel.MMA_SYNC}) {
            CudaAttention attention = new CudaAttention(ops.device(), family);
            try (DeviceArena.Scope scope = ops.device().arena().scope()) {
                DeviceBuffer dq = ops.uploadBf16(in.q().data(), shape);
                DeviceBuffer dk = ops.uploadBf16(in.k().data(), shape);
                DeviceBuffer dv = ops.uploadBf16(in.v().data(), shape);
                DeviceBuffer bf16 = poisoned(DType.BF16, shape);
                if (!attention.writesBf16(policy, 128)) {
                    assertThatThrownBy(() -> attention.forward(policy, AttentionOptions.withGrid(g), dq, dk, dv, bf16, null, null,
                            attention.newStatsBuffer())).hasMessageContaining("must be F32 of shape");
                    continue;
                }
                DeviceBuffer f32 = poisoned(DType.F32, shape);
                attention.forward(policy, AttentionOptions.withGrid(g), dq, dk, dv, f32, null, null, attention.newStatsBuffer());
                attention.forward(policy, AttentionOptions.withGrid(g), dq, dk, dv, bf16, null, null, attention.newStatsBuffer());
                float[] want = roundBf16(f32.toFloatArray());
                short[] got = bf16.toShortArray();
                for (int i = 0; i < want.length; i++) {
                    short w = (short) (Float.floatToRawIntBits(want[i]) >>> 16);
                    if (got[i] != w) {
                        throw new AssertionError(attention.name() + " " + spec + ": element " + i + " is 0x"
                                + Integer.toHexString(got[i] & 0xffff) + ", the float32 output rounded is 0x" + Integer.toHexString(w & 0xffff));
                    }
                }
            }
        }
        assertThat(new CudaAttention(ops.device(), AttentionKernel.MMA_SYNC).writesBf16(policy, 128)).isFalse();
    }
}
