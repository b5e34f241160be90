package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.assertWrittenAndClose;
import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.poisoned;
import static io.sparserender.testing.GpuTestDevice.random;
import static io.sparserender.testing.GpuTestDevice.roundBf16;
import static io.sparserender.testing.GpuTestDevice.uniform;

import io.sparserender.engine.ops.reference.Elementwise;
import io.sparserender.engine.tensor.DType;
import io.sparserender.testing.RequiresGpu;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** elementwise.cu against its Java twin, float32 and bf16, on awkward lengths. */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class ElementwiseGpuTest {
    @ParameterizedTest
    @ValueSource(ints = {1, 7, 1000, 65_537, 1_048_579})
    void float32MatchesTheTwin(int n) {
        SplittableRandom r = random("elementwise f32 n=" + n);
        float[] a = uniform(r, n, -6, 6);
        float[] b = uniform(r, n, -6, 6);
        float s = (float) r.nextDouble(-3, 3);
        CudaKernels ops = ops();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer da = ops.upload(a, n);
            DeviceBuffer db = ops.upload(b, n);
            DeviceBuffer out = poisoned(DType.F32, n);
            ops.add(da, db, out);
            assertWrittenAndClose(out, Elementwise.add(a, b), 0, 0, "add f32");
            out = poisoned(DType.F32, n);
            ops.scale(da, s, out);
            assertWrittenAndClose(out, Elementwise.scale(a, s), 0, 0, "scale f32");
            out = poisoned(DType.F32, n);
            ops.silu(da, out);
            assertWrittenAndClose(out, Elementwise.silu(a), 1e-6, 1e-5, "silu f32");
            out = poisoned(DType.F32, n);
            ops.geluTanh(da, out);
            assertWrittenAndClose(out, Elementwise.geluTanh(a), 1e-6, 1e-5, "gelu_tanh f32");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 9, 4097, 300_001})
    void bf16MatchesTheTwinWithinOneRounding(int n) {
        SplittableRandom r = random("elementwise bf16 n=" + n);
        float[] a = roundBf16(uniform(r, n, -6, 6));
        float[] b = roundBf16(uniform(r, n, -6, 6));
        float s = (float) r.nextDouble(-3, 3);
        CudaKernels ops = ops();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer da = ops.uploadBf16(a, n);
            DeviceBuffer db = ops.uploadBf16(b, n);
            DeviceBuffer out = poisoned(DType.BF16, n);
            ops.add(da, db, out);
            // fp32 result rounded once to bf16: within half a bf16 ulp (2^-8 relative) of the exact value
            assertWrittenAndClose(out, Elementwise.add(a, b), 1e-6, 1.0 / 256, "add bf16");
            out = poisoned(DType.BF16, n);
            ops.scale(da, s, out);
            assertWrittenAndClose(out, Elementwise.scale(a, s), 1e-6, 1.0 / 256, "scale bf16");
            out = poisoned(DType.BF16, n);
            ops.silu(da, out);
            assertWrittenAndClose(out, Elementwise.silu(a), 1e-6, 1.0 / 256 + 1e-5, "silu bf16");
            out = poisoned(DType.BF16, n);
            ops.geluTanh(da, out);
            assertWrittenAndClose(out, Elementwise.geluTanh(a), 1e-6, 1.0 / 256 + 1e-5, "gelu_tanh bf16");
        }
    }
}
