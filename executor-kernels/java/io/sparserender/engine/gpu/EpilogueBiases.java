package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The bf16 copies of float32 bias vectors that a GEMM's fused bias epilogue reads (cuBLASLt takes the bias
 * in C's type, bf16, when C is bf16). Each copy is made once, right after its vector is uploaded, so it
 * lives in the same arena range as the vector (parked, swapped and freed with it), never per call inside
 * a forward's scopes. One per device, shared by every {@link CudaOps} on it; keyed by the float32 buffer
 * itself (identity, weakly: a dropped model's entries go with it).
 */
public final class EpilogueBiases {
    private final Map<DeviceBuffer, DeviceBuffer> copies = Collections.synchronizedMap(new WeakHashMap<>());

    /** Remembers {@code bf16} as the copy of {@code f32}. */
    void put(DeviceBuffer f32, DeviceBuffer bf16) {
        if (f32.dtype() != DType.F32 || bf16.dtype() != DType.BF16 || f32.numel() != bf16.numel()) {
            throw new IllegalArgumentException("An epilogue bias copy pairs F32[n] with BF16[n]; got " + f32 + " and " + bf16);
        }
        copies.put(f32, bf16);
    }

    /** The bf16 copy of this float32 vector, or null where none was made (the caller adds the bias itself). */
    DeviceBuffer bf16Of(DeviceBuffer f32) {
        return copies.get(f32);
    }
}
