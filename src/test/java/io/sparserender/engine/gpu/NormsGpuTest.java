package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.assertWrittenAndClose;
import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.poisoned;
import static io.sparserender.testing.GpuTestDevice.random;
import static io.sparserender.testing.GpuTestDevice.roundBf16;
import static io.sparserender.testing.GpuTestDevice.uniform;

import io.sparserender.engine.ops.reference.LayerNorm;
import io.sparserender.engine.ops.reference.RmsNorm;
import io.sparserender.engine.ops.reference.SoftmaxRows;
import io.sparserender.engine.tensor.DType;
import io.sparserender.testing.RequiresGpu;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** layer_norm.cu, rms_norm.cu and softmax_rows.cu against their Java twins on awkward row lengths. */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class NormsGpuTest {
    @ParameterizedTest
    @CsvSource({"1,1", "3,5", "7,3072", "33,1000", "2,5121", "300,257"})
    void layerNormMatchesTheTwin(int rows, int cols) {
        SplittableRandom r = random("layer_norm " + rows + "x" + cols);
        float[] x = uniform(r, rows * cols, -2, 4); // mean far from 0: the two-pass variance matters
        float[] w = uniform(r, cols, 0.5, 1.5);
        float[] b = uniform(r, cols, -0.5, 0.5);
        CudaKernels ops = ops();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer dx = ops.upload(x, rows, cols);
            DeviceBuffer dw = ops.upload(w, cols);
            DeviceBuffer db = ops.upload(b, cols);
            DeviceBuffer out = poisoned(DType.F32, rows, cols);
            ops.layerNorm(dx, null, null, 1e-6f, out);
            assertWrittenAndClose(out, LayerNorm.apply(x, rows, cols, null, null, 1e-6f), 2e-5, 1e-5, "layer_norm f32");
            out = poisoned(DType.F32, rows, cols);
            ops.layerNorm(dx, dw, db, 1e-6f, out);
            assertWrittenAndClose(out, LayerNorm.apply(x, rows, cols, w, b, 1e-6f), 2e-5, 1e-5, "layer_norm affine f32");

            float[] xb = roundBf16(x);
            DeviceBuffer dxb = ops.uploadBf16(xb, rows, cols);
            DeviceBuffer outb = poisoned(DType.BF16, rows, cols);
            ops.layerNorm(dxb, dw, db, 1e-6f, outb);
            assertWrittenAndClose(outb, LayerNorm.apply(xb, rows, cols, w, b, 1e-6f), 1e-3, 1e-2, "layer_norm affine bf16");
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "5,3", "6,3072", "31,999", "3,5121"})
    void rmsNormMatchesTheTwin(int rows, int cols) {
        SplittableRandom r = random("rms_norm " + rows + "x" + cols);
        float[] x = uniform(r, rows * cols, -3, 3);
        float[] w = uniform(r, cols, 0.5, 1.5);
        CudaKernels ops = ops();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer dx = ops.upload(x, rows, cols);
            DeviceBuffer dw = ops.upload(w, cols);
            DeviceBuffer out = poisoned(DType.F32, rows, cols);
            ops.rmsNorm(dx, dw, 1e-6f, out);
            assertWrittenAndClose(out, RmsNorm.apply(x, rows, cols, w, 1e-6f), 1e-6, 1e-5, "rms_norm f32");
            out = poisoned(DType.F32, rows, cols);
            ops.rmsNorm(dx, null, 1e-6f, out);
            assertWrittenAndClose(out, RmsNorm.apply(x, rows, cols, null, 1e-6f), 1e-6, 1e-5, "rms_norm no weight f32");

            float[] xb = roundBf16(x);
            DeviceBuffer dxb = ops.uploadBf16(xb, rows, cols);
            DeviceBuffer outb = poisoned(DType.BF16, rows, cols);
            ops.rmsNorm(dxb, dw, 1e-6f, outb);
            assertWrittenAndClose(outb, RmsNorm.apply(xb, rows, cols, w, 1e-6f), 1e-3, 1e-2, "rms_norm bf16");
        }
    }

    @ParameterizedTest
    @CsvSource({"1,1", "5,1", "3,7", "17,1000", "4,32769"})
    void softmaxRowsMatchesTheTwin(int rows, int cols) {
        SplittableRandom r = random("softmax_rows " + rows + "x" + cols);
        float[] x = uniform(r, rows * cols, -8, 8);
        CudaKernels ops = ops();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer dx = ops.upload(x, rows, cols);
            DeviceBuffer out = poisoned(DType.F32, rows, cols);
            ops.softmaxRows(dx, out);
            assertWrittenAndClose(out, SoftmaxRows.apply(x, rows, cols), 1e-9, 1e-5, "softmax_rows f32");

            float[] xb = roundBf16(x);
            DeviceBuffer dxb = ops.uploadBf16(xb, rows, cols);
            DeviceBuffer outb = poisoned(DType.BF16, rows, cols);
            ops.softmaxRows(dxb, outb);
            assertWrittenAndClose(outb, SoftmaxRows.apply(xb, rows, cols), 1e-9, 1e-2, "softmax_rows bf16");
        }
    }
}
