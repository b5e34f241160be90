package io.sparserender.engine.ops.reference;

/**
 * Java twin of {@code layer_norm.cu}: LayerNorm over the last dimension of [rows, cols], biased
 * variance (torch.nn.LayerNorm), accumulated in double; weight and bias may be null.
 */
public final class LayerNorm {
    private LayerNorm() {}

    public static float[] apply(float[] x, int rows, int cols, float[] weight, float[] bias, float eps) {
        float[] out = new float[x.length];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            double mean = 0;
            for (int c = 0; c < cols; c++) {
                mean += x[base + c];
            }
            mean /= cols;
            double var = 0;
            for (int c = 0; c < cols; c++) {
                double d = x[base + c] - mean;
                var += d * d;
            }
            var /= cols;
            double rstd = 1.0 / Math.sqrt(var + eps);
            for (int c = 0; c < cols; c++) {
                double v = (x[base + c] - mean) * rstd;
                if (weight != null) {
                    v *= weight[c];
                }
                if (bias != null) {
                    v += bias[c];
                }
                out[base + c] = (float) v;
            }
        }
        return out;
    }
}
