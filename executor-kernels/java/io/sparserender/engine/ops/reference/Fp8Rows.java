package io.sparserender.engine.ops.reference;

/**
 * Java twin of {@code fp8_quantize.cu}: each row of a [rows, cols] matrix as FP8 E4M3 codes with one float scale,
 * the operands of the FP8 GEMM ({@code C[i][j] = scale_a[i] · scale_b[j] · Σ_k a[i][k] · b[j][k]}). Per row:
 * amax = max |x|; amax = 0 gives scale 1 (and codes of x · 0); else inv = 448 / amax, code = E4M3(x · inv)
 * ({@link Fp8E4M3#encode}), scale = amax / 448 — each one float operation, as the kernel does them.
 *
 * @param codes  [rows · cols]
 * @param scales [rows]
 */
public record Fp8Rows(int rows, int cols, byte[] codes, float[] scales) {
    public Fp8Rows {
        if (codes.length != (long) rows * cols || scales.length != rows) {
            throw new IllegalArgumentException("Fp8Rows of " + rows + "x" + cols + " needs " + (long) rows * cols
                    + " codes and " + rows + " scales; got " + codes.length + " and " + scales.length);
        }
    }

    /** Quantizes {@code x} ([rows, cols], row-major; bf16 values in the engine, any floats here). */
    public static Fp8Rows quantize(float[] x, int rows, int cols) {
        if (x.length != (long) rows * cols) {
            throw new IllegalArgumentException("Cannot quantize " + x.length + " values as " + rows + "x" + cols);
        }
        byte[] codes = new byte[x.length];
        float[] scales = new float[rows];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            float amax = 0f;
            for (int c = 0; c < cols; c++) {
                amax = Math.max(amax, Math.abs(x[base + c]));
            }
            boolean zero = amax == 0f;
            float inv = zero ? 0f : Fp8E4M3.MAX / amax;
            scales[r] = zero ? 1f : amax / Fp8E4M3.MAX;
            for (int c = 0; c < cols; c++) {
                codes[base + c] = Fp8E4M3.encode(x[base + c] * inv);
            }
        }
        return new Fp8Rows(rows, cols, codes, scales);
    }

    /**
     * The FP8 GEMM's reference: {@code C[i][j] = Σ_k a(i, k) · b(j, k) (+ bias[j])} over the values the codes stand for, in
     * double ([a.rows, b.rows], row-major). {@code bias} may be null.
     */
    public static double[] product(Fp8Rows a, Fp8Rows b, float[] bias) {
        if (a.cols != b.cols || bias != null && bias.length != b.rows) {
            throw new IllegalArgumentException("FP8 product of " + a.rows + "x" + a.cols + " and " + b.rows + "x" + b.cols
                    + (bias == null ? "" : " with a bias of " + bias.length));
        }
        double[] c = new double[a.rows * b.rows];
        double[] av = new double[a.cols];
        double[] bv = new double[b.rows * b.cols];
        for (int j = 0; j < b.rows; j++) {
            for (int k = 0; k < b.cols; k++) {
                bv[j * b.cols + k] = b.value(j, k);
            }
        }
        for (int i = 0; i < a.rows; i++) {
            for (int k = 0; k < a.cols; k++) {
                av[k] = a.value(i, k);
            }
            for (int j = 0; j < b.rows; j++) {
                double sum = bias == null ? 0 : bias[j];
                for (int k = 0; k < a.cols; k++) {
                    sum += av[k] * bv[j * b.cols + k];
                }
                c[i * b.rows + j] = sum;
            }
        }
        return c;
    }

    /** The value element (r, c) stands for: code · scale, in double. */
    public double value(int r, int c) {
        return (double) Fp8E4M3.decode(codes[r * cols + c]) * scales[r];
    }
}
