package io.sparserender.engine.ops.reference;

/** Java twin of {@code rms_norm.cu}: x / sqrt(mean(x^2) + eps) * weight over the last dimension. */
public final class RmsNorm {
    private RmsNorm() {}

    public static float[] apply(float[] x, int rows, int cols, float[] weight, float eps) {
        float[] out = new float[x.length];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            double ms = 0;
            for (int c = 0; c < cols; c++) {
                ms += (double) x[base + c] * x[base + c];
            }
            double inv = 1.0 / Math.sqrt(ms / cols + eps);
            for (int c = 0; c < cols; c++) {
                double v = x[base + c] * inv;
                if (weight != null) {
                    v *= weight[c];
                }
                out[base + c] = (float) v;
            }
        }
        return out;
    }
}
