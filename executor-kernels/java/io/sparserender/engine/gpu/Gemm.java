package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;

/**
 * Matrix product on the device, bf16 in, fp32 accumulation:
 * {@code C[M, N] = alpha * A[M, K] . B[N, K]^T} (B as torch.nn.Linear stores its weight), C float32 or
 * bf16. Any M, N, K >= 1. Two implementations, chosen at start by {@link CudaDevice}: cuBLASLt through
 * a JNI shim when the host has it, the project's own tensor-core kernel otherwise.
 */
public interface Gemm {
    /** For doctor and the statistics, e.g. "cublasLt 13.0.2 (libcublasLt.so.13)". */
    String name();

    void matmul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, float alpha);

    default void matmul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c) {
        matmul(a, b, c, 1f);
    }

    /**
     * What a GEMM may apply to its fp32 result before the one rounding to C: a bias per column of C (per
     * row of B, i.e. per output feature of a linear layer), then GELU(tanh)
     * {@code 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))}, the model's FFN activation (cuBLASLt's GELU
     * epilogue is documented as exactly this approximation).
     */
    enum Epilogue {
        BIAS(4, true),
        GELU(32, false),
        GELU_BIAS(36, true);

        /** cuBLASLt's cublasLtEpilogue_t value. */
        final int cublasLt;
        final boolean takesBias;

        Epilogue(int cublasLt, boolean takesBias) {
            this.cublasLt = cublasLt;
            this.takesBias = takesBias;
        }
    }

    /**
     * {@code C = epilogue(A . B^T [+ bias])} with the epilogue fused into the product; bias [N] of C's dtype
     * (cuBLASLt takes a bf16 bias for bf16 C), non-null exactly when the epilogue takes one. Returns false,
     * having written nothing, where this GEMM cannot fuse the epilogue for these shapes: the caller then
     * runs {@link #matmul} and applies the epilogue itself. This default fuses nothing.
     */
    default boolean matmul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, Epilogue epilogue, DeviceBuffer bias) {
        return false;
    }

    /**
     * {@code C = A · Bᵀ [+ bias]} from FP8 operands, each row scaled ({@link Fp8Matrix}): {@code C[i][j] = sa[i] · sb[j] ·
     * Σ_k a[i][k] · b[j][k]}, fp32 accumulation, bf16 C [M, N]; epilogue null or {@link Epilogue#BIAS} with a bf16 bias [N].
     * Returns false, having written nothing, where this GEMM has no FP8 product for these shapes (the caller then runs
     * the bf16 product). This default has none.
     */
    default boolean matmulFp8(Fp8Matrix a, Fp8Matrix b, DeviceBuffer c, Epilogue epilogue, DeviceBuffer bias) {
        return false;
    }

    /** The checks of an FP8 call: shapes agree, C is bf16, the epilogue is none or BIAS with a bf16 bias [N]. */
    static void checkFp8(Fp8Matrix a, Fp8Matrix b, DeviceBuffer c, Epilogue epilogue, DeviceBuffer bias) {
        if (c.rank() != 2 || c.dtype() != DType.BF16 || a.cols() != b.cols() || c.dim(0) != a.rows() || c.dim(1) != b.rows()) {
            throw new IllegalArgumentException("FP8 GEMM wants A[M,K], B[N,K] and a BF16 C[M,N]; got A " + a.codes() + ", B "
                    + b.codes() + ", C " + c);
        }
        if (epilogue != null && epilogue != Epilogue.BIAS) {
            throw new IllegalArgumentException("FP8 GEMM fuses only the BIAS epilogue; got " + epilogue);
        }
        if ((epilogue != null) != (bias != null)) {
            throw new IllegalArgumentException("FP8 GEMM: a bias goes with the BIAS epilogue; got " + epilogue + " and " + bias);
        }
        if (bias != null && (bias.dtype() != DType.BF16 || bias.numel() != c.dim(1))) {
            throw new IllegalArgumentException("FP8 GEMM epilogue bias " + bias + " must be BF16[" + c.dim(1) + "]");
        }
    }

    /** The checks of an epilogue call: a bias present exactly when the epilogue takes one, [N] of C's dtype. */
    static void checkEpilogue(DeviceBuffer c, Epilogue epilogue, DeviceBuffer bias) {
        if (epilogue.takesBias != (bias != null)) {
            throw new IllegalArgumentException("GEMM epilogue " + epilogue + (epilogue.takesBias ? " needs" : " takes no")
                    + " bias; got " + bias);
        }
        if (bias != null && (bias.dtype() != c.dtype() || bias.numel() != c.dim(1))) {
            throw new IllegalArgumentException("GEMM epilogue bias " + bias + " must be " + c.dtype() + "[" + c.dim(1)
                    + "] for C " + c);
        }
    }

    /** M, N, K of a valid call, or an IllegalArgumentException naming the mismatch. */
    static int[] shapes(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c) {
        if (a.rank() != 2 || b.rank() != 2 || c.rank() != 2) {
            throw new IllegalArgumentException("GEMM wants 2-D A[M,K], B[N,K], C[M,N]; got " + a + ", " + b + ", " + c);
        }
        if (a.dtype() != DType.BF16 || b.dtype() != DType.BF16) {
            throw new IllegalArgumentException("GEMM wants bf16 A and B; got " + a + ", " + b);
        }
        if (c.dtype() != DType.F32 && c.dtype() != DType.BF16) {
            throw new IllegalArgumentException("GEMM writes F32 or BF16 C; got " + c);
        }
        int m = a.dim(0), k = a.dim(1), n = b.dim(0);
        if (b.dim(1) != k || c.dim(0) != m || c.dim(1) != n) {
            throw new IllegalArgumentException("GEMM shapes disagree: A " + a + ", B " + b + ", C " + c
                    + " (want A[M,K], B[N,K], C[M,N])");
        }
        if (m == 0 || n == 0 || k == 0) {
            throw new IllegalArgumentException("GEMM wants M, N, K >= 1; got " + m + ", " + n + ", " + k);
        }
        return new int[] {m, n, k};
    }
}
