package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.cudaOps;
import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.random;
import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.ops.reference.Fp8Rows;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.HalfFloats;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.testing.RequiresGpu;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The FP8 path of the linear layers: {@code fp8_quantize.cu} against its Java twin {@link Fp8Rows} bit for bit, cuBLASLt's
 * FP8 product (outer-vector scales) against the double-precision sum over the values the codes stand for, and
 * {@link CudaOps#linear} under {@link GemmPrecision#FP8}.
 */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class Fp8GemmGpuTest {
    private static final byte POISON_CODE = 0x7F; // E4M3 NaN: never the code of a finite value

    @ParameterizedTest(name = "{0} x {1}")
    @CsvSource({"1, 1", "3, 7", "5, 129", "2, 8", "64, 3072", "300, 200", "7, 14336", "9, 2056", "3, 16392"})
    void quantizationIsTheTwinsBitForBit(int rows, int cols) {
        SplittableRandom r = random("fp8 quantize " + rows + "x" + cols);
        float[] x = wideRange(r, rows * cols);
        if (rows > 1) {
            Arrays.fill(x, 0, cols, 0f);                           // a zero row: scale 1
            Arrays.fill(x, (rows - 1) * cols, rows * cols, 0f);
            x[(rows - 1) * cols + cols / 2] = -3.5e-3f;            // one non-zero element: it alone maps to -448
        }
        CudaOps ops = cudaOps();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer in = bf16(x, rows, cols);
            Fp8Matrix out = poisoned(rows, cols);
            ops.quantizeFp8Rows(in, out);
            byte[] codes = out.codes().toByteArray();
            float[] scales = out.scales().toFloatArray();
            Fp8Rows want = Fp8Rows.quantize(rounded(x), rows, cols);
            for (int i = 0; i < codes.length; i++) {
                if (codes[i] == POISON_CODE || codes[i] != want.codes()[i]) { // one AssertJ call per failure, not per element
                    assertThat(codes[i]).as("code %d (row %d, x %s)", i, i / cols, x[i]).isNotEqualTo(POISON_CODE)
                            .isEqualTo(want.codes()[i]);
                }
            }
            for (int i = 0; i < rows; i++) {
                assertThat(Float.floatToRawIntBits(scales[i])).as("scale of row %d", i)
                        .isEqualTo(Float.floatToRawIntBits(want.scales()[i]));
            }
        }
    }

    @ParameterizedTest(name = "M={0} N={1} K={2} bias={3}")
    @CsvSource({"1, 16, 16, false", "77, 48, 96, true", "300, 200, 128, true", "1030, 64, 3072, false", "33, 3072, 3072, true"})
    void theFp8ProductIsTheSumOverTheCodedValues(int m, int n, int k, boolean withBias) {
        SplittableRandom r = random("fp8 gemm " + m + "x" + n + "x" + k);
        float[] a = wideRange(r, m * k);
        float[] b = new float[n * k];
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) (r.nextGaussian() / Math.sqrt(k));
        }
        float[] bias = new float[n];
        for (int j = 0; j < n; j++) {
            bias[j] = HalfFloats.roundToBf16((float) r.nextGaussian());
        }
        CudaOps ops = cudaOps();
        Gemm gemm = ops.device().gemm();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            Fp8Matrix a8 = ops.quantizeFp8Rows(bf16(a, m, k));
            Fp8Matrix b8 = ops.quantizeFp8Rows(bf16(b, n, k));
            DeviceBuffer c = ops.kernels().allocate(DType.BF16, m, n);
            c.copyFrom(filled(m * n, (short) 0x7FC0));           // NaN: an element never written stays NaN
            DeviceBuffer biasBuf = withBias ? bf16(bias, n) : null;
            boolean ran = gemm.matmulFp8(a8, b8, c, withBias ? Gemm.Epilogue.BIAS : null, biasBuf);
            assertThat(ran).as("cuBLASLt has an FP8 product for %dx%dx%d (%s)", m, n, k, gemm.name()).isTrue();
            Fp8Rows ta = Fp8Rows.quantize(rounded(a), m, k);
            Fp8Rows tb = Fp8Rows.quantize(rounded(b), n, k);
            double[] want = Fp8Rows.product(ta, tb, withBias ? bias : null);
            float[] got = c.toFloats();
            double[] va = values(ta);
            double[] vb = values(tb);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    // Hopper's FP8 MMA keeps ≈ 14 bits of its partial sums between cuBLASLt's promotions to fp32 (DeepSeek-V3
                    // report, §3.3.2; measured here up to 1.7e-4 ≈ 2^-12.5 of the magnitudes summed): the tolerance is 2^-11
                    // of them, plus the bf16 rounding of C. A wrong scale, layout or bias would be off by O(1) of the result.
                    double absSum = 0;
                    for (int q = 0; q < k; q++) {
                        absSum += Math.abs(va[i * k + q] * vb[j * k + q]);
                    }
                    double w = want[i * n + j];
                    double tol = 0x1p-8 * Math.abs(w) + 0x1p-11 * absSum + 1e-30;
                    double g = got[i * n + j];
                    if (!(Math.abs(g - w) <= tol)) {
                        assertThat(g).as("C[%d][%d] (magnitudes summed %s)", i, j, absSum).isNotNaN()
                                .isCloseTo(w, org.assertj.core.api.Assertions.within(tol));
                    }
                }
            }
        }
    }

    @Test
    void aShapeWithoutAnFp8ProductIsRefusedAndNothingIsWritten() {
        CudaOps ops = cudaOps();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            int m = 8, n = 16, k = 20; // an FP8 row of 20 bytes is not 16-byte aligned: cuBLASLt has no layout for it
            Fp8Matrix a8 = ops.quantizeFp8Rows(bf16(new float[m * k], m, k));
            Fp8Matrix b8 = ops.quantizeFp8Rows(bf16(new float[n * k], n, k));
            DeviceBuffer c = ops.kernels().allocate(DType.BF16, m, n);
            short[] poison = filled(m * n, (short) 0x7FC0);
            c.copyFrom(poison);
            assertThat(ops.device().gemm().matmulFp8(a8, b8, c, null, null)).isFalse();
            assertThat(c.toShortArray()).containsExactly(poison);
        }
    }

    @Test
    void linearLayersRunInFp8AboveTheRowThresholdOnly() {
        SplittableRandom r = random("fp8 linear");
        int out = 1024;
        int in = 1024;   // out · in = FP8_MIN_WEIGHT: the smallest matrix that gets an FP8 copy
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() / Math.sqrt(in));
        }
        float[] bias = new float[out];
        for (int j = 0; j < out; j++) {
            bias[j] = (float) (0.1 * r.nextGaussian());
        }
        CudaOps bf16 = cudaOps();
        CudaOps fp8 = new CudaOps(bf16.device(), OpTimer.OFF, GemmPrecision.FP8);
        DeviceArena arena = bf16.device().arena();
        try (DeviceArena.Scope scope = arena.scope()) {
            DeviceBuffer weight = fp8.transformerParameter(new Tensor(w, out, in));
            DeviceBuffer b = fp8.transformerParameter(new Tensor(bias, out));
            for (int rows : new int[] {CudaOps.FP8_MIN_ROWS + 77, CudaOps.FP8_MIN_ROWS - 1}) {
                float[] x = new float[rows * in];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) r.nextGaussian();
                }
                DeviceBuffer xb = bf16(x, rows, in);
                float[] y8 = fp8.linear(xb, weight, b).toFloats();
                float[] y16 = bf16.linear(xb, weight, b).toFloats();
                if (rows < CudaOps.FP8_MIN_ROWS) {
                    // Arrays.equals, not AssertJ's containsExactly: that one took minutes on a million elements
                    assertThat(Arrays.equals(y8, y16)).as("below %d rows the product stays bf16, bit for bit", CudaOps.FP8_MIN_ROWS)
                            .isTrue();
                    continue;
                }
                float[] biasBf16 = rounded(bias); // the epilogue adds the bias's bf16 copy
                double[] want = Fp8Rows.product(Fp8Rows.quantize(rounded(x), rows, in), Fp8Rows.quantize(rounded(w), out, in),
                        biasBf16);
                double num = 0;
                double den = 0;
                for (int i = 0; i < want.length; i++) {
                    double tol = 0x1p-8 * Math.abs(want[i]) + 1e-2; // y ~ N(0, 1): the FP8 accumulation (see above) stays below 1e-2
                    if (!(Math.abs(y8[i] - want[i]) <= tol)) {
                        assertThat((double) y8[i]).as("y[%d]", i).isCloseTo(want[i], org.assertj.core.api.Assertions.within(tol));
                    }
                    num += (double) (y8[i] - y16[i]) * (y8[i] - y16[i]);
                    den += (double) y16[i] * y16[i];
                }
                // E4M3 keeps 3 mantissa bits: ≈ 3-4 % per product on Gaussian data (bf16: ≈ 0.2 %)
                assertThat(Math.sqrt(num / den)).as("FP8 against bf16, relative L2").isBetween(0.01, 0.1);
            }
        }
    }

    // ---- helpers

    private static float[] wideRange(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * Math.exp(r.nextDouble() * 16 - 8));
        }
        return x;
    }

    private static double[] values(Fp8Rows q) {
        double[] v = new double[q.rows() * q.cols()];
        for (int i = 0; i < q.rows(); i++) {
            for (int c = 0; c < q.cols(); c++) {
                v[i * q.cols() + c] = q.value(i, c);
            }
        }
        return v;
    }

    private static float[] rounded(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = HalfFloats.roundToBf16(x[i]);
        }
        return y;
    }

    private static DeviceBuffer bf16(float[] x, int... shape) {
        DeviceBuffer b = ops().allocate(DType.BF16, shape);
        short[] s = new short[x.length];
        for (int i = 0; i < x.length; i++) {
            s[i] = HalfFloats.floatToBf16(x[i]);
        }
        b.copyFrom(s);
        return b;
    }

    private static Fp8Matrix poisoned(int rows, int cols) {
        DeviceBuffer codes = ops().allocate(DType.U8, rows, cols);
        byte[] p = new byte[rows * cols];
        Arrays.fill(p, POISON_CODE);
        codes.copyFrom(p);
        DeviceBuffer scales = ops().allocate(DType.F32, rows);
        float[] nan = new float[rows];
        Arrays.fill(nan, Float.NaN);
        scales.copyFrom(nan);
        return new Fp8Matrix(codes, scales);
    }

    private static short[] filled(int n, short v) {
        short[] s = new short[n];
        Arrays.fill(s, v);
        return s;
    }
}
