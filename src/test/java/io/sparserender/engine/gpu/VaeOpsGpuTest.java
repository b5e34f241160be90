package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.POISON16;
import static io.sparserender.testing.GpuTestDevice.POISON32;
import static io.sparserender.testing.GpuTestDevice.assertWrittenAndClose;
import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.poisoned;
import static io.sparserender.testing.GpuTestDevice.random;
import static io.sparserender.testing.GpuTestDevice.roundBf16;
import static io.sparserender.testing.GpuTestDevice.uniform;
import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.ops.reference.Elementwise;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.testing.RequiresGpu;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * vae_ops.cu against its twins in CpuOps (channelRmsNorm, upsampleNearest2x, repeatInterleave, clamp) on
 * awkward shapes, float32 and bf16 (the twin run on the bf16-rounded input), outputs poisoned first.
 * The copies (upsample, repeat) must be exact; the norm within fp32 rounding (float32) or half a bf16
 * ulp of the result (bf16).
 */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class VaeOpsGpuTest {
    private final CpuOps cpu = new CpuOps();

    @ParameterizedTest(name = "[{0}, {1}, {2}, {3}] beta {4}")
    @CsvSource({"1, 1, 1, 1, false", "3, 2, 5, 7, true", "12, 1, 1, 1, false", "256, 2, 9, 13, false",
        "1024, 1, 3, 5, true", "48, 3, 1, 257, true"})
    void channelRmsNormMatchesTheTwin(int c, int t, int h, int w, boolean withBeta) {
        SplittableRandom r = random("channel_rms_norm " + c + "x" + t + "x" + h + "x" + w);
        int[] shape = {c, t, h, w};
        float[] x = uniform(r, c * t * h * w, -3, 3);
        float[] gamma = uniform(r, c, 0.5, 1.5);
        float[] beta = withBeta ? uniform(r, c, -0.5, 0.5) : null;
        CudaKernels ops = ops();
        CudaVaeKernels vae = new CudaVaeKernels(ops.device());
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer dg = ops.upload(gamma, c);
            DeviceBuffer db = beta == null ? null : ops.upload(beta, c);
            for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                boolean bf16 = dt == DType.BF16;
                float[] xin = bf16 ? roundBf16(x) : x;
                float[] want = cpu.channelRmsNorm(new Tensor(xin, shape), new Tensor(gamma, c),
                        beta == null ? null : new Tensor(beta, c)).data();
                DeviceBuffer dx = bf16 ? ops.uploadBf16(x, shape) : ops.upload(x, shape);
                double atol = 1e-6;
                double rtol = bf16 ? 1.0 / 256 : 3e-5; // fp32 sum of C squares against the twin's double
                DeviceBuffer out = poisoned(dt, shape);
                vae.channelRmsNormInto(dx, dg, db, false, out);
                assertWrittenAndClose(out, want, atol, rtol, "channel_rms_norm " + dt);
                out = poisoned(dt, shape);
                vae.channelRmsNormInto(dx, dg, db, true, out);
                assertWrittenAndClose(out, Elementwise.silu(want), atol, rtol, "channel_rms_norm + silu " + dt);
                assertWrittenAndClose(vae.channelRmsNorm(dx, dg, db), want, atol, rtol, "channelRmsNorm " + dt);
            }
        }
    }

    @Test
    void channelRmsNormOfZerosIsZeroNotNaN() {
        CudaKernels ops = ops();
        CudaVaeKernels vae = new CudaVaeKernels(ops.device());
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer out = vae.channelRmsNorm(ops.upload(new float[12], 3, 4), ops.upload(new float[] {1, 2, 3}, 3), null);
            assertThat(out.toFloatArray()).containsOnly(0f);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"3x2x5x7", "1x1", "4x1x33x1", "2x3x1x17", "5x64x80"})
    void upsampleCopiesEachElementToA2x2Block(String dims) {
        int[] shape = Arrays.stream(dims.split("x")).mapToInt(Integer::parseInt).toArray();
        int n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        SplittableRandom r = random("upsample_nearest2x " + dims);
        float[] x = uniform(r, n, -5, 5);
        int[] outShape = shape.clone();
        outShape[shape.length - 2] *= 2;
        outShape[shape.length - 1] *= 2;
        CudaKernels ops = ops();
        CudaVaeKernels vae = new CudaVaeKernels(ops.device());
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                float[] xin = dt == DType.BF16 ? roundBf16(x) : x;
                float[] want = cpu.upsampleNearest2x(new Tensor(xin, shape)).data();
                DeviceBuffer dx = dt == DType.BF16 ? ops.uploadBf16(x, shape) : ops.upload(x, shape);
                DeviceBuffer out = poisoned(dt, outShape);
                vae.upsampleNearest2xInto(dx, out);
                assertWrittenAndClose(out, want, 0, 0, "upsample_nearest2x " + dt);
                DeviceBuffer alloc = vae.upsampleNearest2x(dx);
                assertThat(alloc.shape()).containsExactly(outShape);
                assertWrittenAndClose(alloc, want, 0, 0, "upsampleNearest2x " + dt);
            }
        }
    }

    @ParameterizedTest(name = "{0} dim {1} x{2}")
    @CsvSource({"5x2x3x7, 0, 3", "5x2x3x7, 1, 2", "5x2x3x7, 3, 4", "7, 0, 5", "4x1x6x10, 0, 1", "3x2x1x300, 2, 3"})
    void repeatInterleaveMatchesTheTwin(String dims, int dim, int repeats) {
        int[] shape = Arrays.stream(dims.split("x")).mapToInt(Integer::parseInt).toArray();
        int n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        SplittableRandom r = random("repeat_interleave " + dims + " " + dim + " " + repeats);
        float[] x = uniform(r, n, -5, 5);
        int[] outShape = shape.clone();
        outShape[dim] *= repeats;
        CudaKernels ops = ops();
        CudaVaeKernels vae = new CudaVaeKernels(ops.device());
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                float[] xin = dt == DType.BF16 ? roundBf16(x) : x;
                float[] want = cpu.repeatInterleave(new Tensor(xin, shape), dim, repeats).data();
                DeviceBuffer dx = dt == DType.BF16 ? ops.uploadBf16(x, shape) : ops.upload(x, shape);
                DeviceBuffer out = poisoned(dt, outShape);
                vae.repeatInterleaveInto(dx, dim, repeats, out);
                assertWrittenAndClose(out, want, 0, 0, "repeat_interleave " + dt);
                assertWrittenAndClose(vae.repeatInterleave(dx, dim, repeats), want, 0, 0, "repeatInterleave " + dt);
            }
        }
    }

    @ParameterizedTest(name = "n {0} [{1}, {2}]")
    @CsvSource({"1, -1, 1", "1000, -1, 1", "4097, -0.3, 0.7", "70001, 0, 6"})
    void clampMatchesTheTwinAndKeepsNaN(int n, float lo, float hi) {
        SplittableRandom r = random("clamp " + n);
        float[] x = uniform(r, n, -3, 3);
        x[n / 2] = Float.NaN;
        CudaKernels ops = ops();
        CudaVaeKernels vae = new CudaVaeKernels(ops.device());
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                float[] xin = dt == DType.BF16 ? roundBf16(x) : x;
                float[] want = cpu.clamp(new Tensor(xin, n), lo, hi).data();
                DeviceBuffer dx = dt == DType.BF16 ? ops.uploadBf16(x, n) : ops.upload(x, n);
                DeviceBuffer out = poisoned(dt, n);
                vae.clampInto(dx, lo, hi, out);
                float[] got = out.toFloats();
                assertThat(got[n / 2]).as("clamp of NaN, " + dt).isNaN();
                boolean poisonLeft = dt == DType.BF16 ? out.toShortArray()[n / 2] == POISON16
                        : Float.floatToRawIntBits(got[n / 2]) == POISON32;
                assertThat(poisonLeft).as("the NaN element was written").isFalse();
                got[n / 2] = 0;
                want[n / 2] = 0;
                // bf16: lo and hi themselves are rounded on store
                float[] wantStored = dt == DType.BF16 ? roundBf16(want) : want;
                for (int i = 0; i < n; i++) {
                    if (Float.compare(got[i], wantStored[i]) != 0) {
                        throw new AssertionError("clamp " + dt + ": element " + i + " = " + got[i] + " (x " + xin[i] + "), expected "
                                + wantStored[i]);
                    }
                }
                DeviceBuffer alloc = vae.clamp(dx, lo, hi);
                assertThat(alloc.toFloats()[n / 2]).isNaN();
            }
        }
    }
}
