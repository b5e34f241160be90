package io.sparserender.engine.ops.reference;

/**
 * Java twin of {@code gemm_bf16.cu} and of the cuBLASLt path: C[M,N] = alpha * A[M,K] . B[N,K]^T with
 * the inputs as given (callers pass bf16-representable values), accumulated in double.
 */
public final class GemmBf16 {
    private GemmBf16() {}

    public static float[] apply(float[] a, float[] b, int m, int n, int k, float alpha) {
        float[] c = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                int ai = i * k, bj = j * k;
                for (int p = 0; p < k; p++) {
                    s += (double) a[ai + p] * b[bj + p];
                }
                c[i * n + j] = (float) (alpha * s);
            }
        }
        return c;
    }
}
