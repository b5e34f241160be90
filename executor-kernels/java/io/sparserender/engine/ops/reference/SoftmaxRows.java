package io.sparserender.engine.ops.reference;

/** Java twin of {@code softmax_rows.cu}: softmax over each row, max subtracted, in double. */
public final class SoftmaxRows {
    private SoftmaxRows() {}

    public static float[] apply(float[] x, int rows, int cols) {
        float[] out = new float[x.length];
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            double m = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) {
                m = Math.max(m, x[base + c]);
            }
            double s = 0;
            for (int c = 0; c < cols; c++) {
                s += Math.exp(x[base + c] - m);
            }
            for (int c = 0; c < cols; c++) {
                out[base + c] = (float) (Math.exp(x[base + c] - m) / s);
            }
        }
        return out;
    }
}
