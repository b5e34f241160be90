package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;

/**
 * A matrix as FP8 E4M3 codes with one float32 scale per row: element (i, k) stands for {@code codes[i][k] ·
 * scales[i]} (made by {@link CudaOps#quantizeFp8Rows}; Java twin {@code ops.reference.Fp8Rows}). The operands of
 * {@link Gemm#matmulFp8}: activations [M, K] and a linear layer's weight [N, K], each scaled per row.
 *
 * @param codes  U8 [rows, cols]
 * @param scales F32 [rows]
 */
public record Fp8Matrix(DeviceBuffer codes, DeviceBuffer scales) {
    public Fp8Matrix {
        if (codes.dtype() != DType.U8 || codes.rank() != 2) {
            throw new IllegalArgumentException("FP8 codes must be U8 [rows, cols]; got " + codes);
        }
        if (scales.dtype() != DType.F32 || scales.numel() != codes.dim(0)) {
            throw new IllegalArgumentException("FP8 scales must be F32 [" + codes.dim(0) + "] for codes " + codes + "; got " + scales);
        }
    }

    public int rows() {
        return codes.dim(0);
    }

    public int cols() {
        return codes.dim(1);
    }
}
