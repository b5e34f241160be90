package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The FP8 copies of bf16 weight matrices that {@link GemmPrecision#FP8} products read ({@link Fp8Matrix}: E4M3 codes,
 * one scale per output feature). Each copy is made once, right after its matrix is uploaded
 * ({@link CudaOps#prepareFp8}), so it lives in the same arena range as the matrix (parked, swapped and freed with it).
 * One per device, keyed by the bf16 matrix itself (identity, weakly: a dropped model's entries go with it).
 */
public final class Fp8Weights {
    private final Map<DeviceBuffer, Fp8Matrix> copies = Collections.synchronizedMap(new WeakHashMap<>());

    void put(DeviceBuffer bf16, Fp8Matrix fp8) {
        if (bf16.dtype() != DType.BF16 || bf16.rank() != 2 || fp8.rows() != bf16.dim(0) || fp8.cols() != bf16.dim(1)) {
            throw new IllegalArgumentException("An FP8 weight copy pairs BF16[n, k] with FP8 codes [n, k]; got " + bf16
                    + " and " + fp8.codes());
        }
        copies.put(bf16, fp8);
    }

    /** The FP8 copy of this matrix, or null where none was made. */
    Fp8Matrix of(DeviceBuffer bf16) {
        return copies.get(bf16);
    }
}
