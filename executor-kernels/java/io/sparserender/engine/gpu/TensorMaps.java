package io.sparserender.engine.gpu;

/**
 * Hopper TMA tensor maps (the 128-byte descriptors {@code cp.async.bulk.tensor} reads), encoded by the driver's
 * {@code cuTensorMapEncodeTiled} through the project's JNI shim ({@code tensor_map_shim.c}; JCuda 12.6 has no
 * binding). A kernel takes the descriptor as a {@code const __grid_constant__} parameter ({@link KernelArgs#bytes}).
 */
public final class TensorMaps {
    /** Descriptor bytes. */
    public static final int BYTES = 128;
    private static final int DTYPE_BFLOAT16 = 9;
    private static final int DTYPE_UINT8 = 0;
    private static final int INTERLEAVE_NONE = 0;
    private static final int SWIZZLE_64B = 2;
    private static final int SWIZZLE_128B = 3;
    private static final int L2_PROMOTION_128B = 2;
    private static final int OOB_FILL_ZERO = 0;

    private TensorMaps() {}

    /**
     * Whether tensor maps can be made here: the shim loads (tried once per JVM, also when nothing has asked for
     * cuBLASLt yet); the driver is asked at the first encode.
     */
    public static boolean available() {
        CublasLtShim.probe();
        return CublasLtShim.libraryLoaded();
    }

    /**
     * A bf16 matrix of {@code rows} × {@code cols} elements, columns contiguous, rows {@code rowStride} elements apart,
     * read in boxes of {@code boxRows} × {@code boxCols} with the 128-byte swizzle wgmma's K-major operands use
     * ({@code boxCols} × 2 bytes must be 128 at most) and zeros outside the matrix.
     */
    public static byte[] bf16Matrix(DeviceBuffer b, long rows, long cols, long rowStride, int boxRows, int boxCols) {
        if (b.dtype() != io.sparserender.engine.tensor.DType.BF16) {
            throw new IllegalArgumentException("A bf16 tensor map needs a BF16 buffer, not " + b.dtype());
        }
        if (rows < 1 || cols < 1 || cols > rowStride || (rows - 1) * rowStride + cols > b.numel()) {
            throw new IllegalArgumentException("Invalid tensor map " + rows + " x " + cols + " (row stride " + rowStride
                    + ") over a buffer of " + b.numel() + " elements");
        }
        if (boxCols * 2 > 128 || boxRows > 256 || boxRows < 1 || boxCols < 8) {
            throw new IllegalArgumentException("Invalid box " + boxRows + " x " + boxCols + ": 8..64 bf16 columns (128 bytes, "
                    + "the swizzle span) and 1..256 rows");
        }
        if (rowStride * 2 % 16 != 0 || b.address() % 16 != 0) {
            throw new IllegalArgumentException("Invalid tensor map: row stride " + rowStride + " elements and the address "
                    + "must be multiples of 16 bytes");
        }
        return encode(b.device(), DTYPE_BFLOAT16, b.address(), new long[] {cols, rows}, new long[] {rowStride * 2},
                new int[] {boxCols, boxRows});
    }

    /**
     * A bf16 tensor of any rank 1..5 ({@code dims} innermost first, {@code byteStrides} of dims 1.. in bytes), read in
     * boxes of {@code box} with the 128-byte swizzle ({@code box[0]} × 2 bytes must be 128 at most).
     */
    public static byte[] bf16(DeviceBuffer b, long[] dims, long[] byteStrides, int[] box) {
        if (b.dtype() != io.sparserender.engine.tensor.DType.BF16) {
            throw new IllegalArgumentException("A bf16 tensor map needs a BF16 buffer, not " + b.dtype());
        }
        if (dims.length != box.length || byteStrides.length != dims.length - 1 || box[0] * 2 > 128) {
            throw new IllegalArgumentException("Invalid tensor map: dims " + java.util.Arrays.toString(dims) + ", strides "
                    + java.util.Arrays.toString(byteStrides) + ", box " + java.util.Arrays.toString(box));
        }
        return encode(b.device(), DTYPE_BFLOAT16, b.address(), dims, byteStrides, box);
    }

    /**
     * A tensor of bytes (U8 or I8: FP8 or INT8 codes) of any rank 1..5 ({@code dims} innermost first, {@code byteStrides} of dims 1..), read
     * in boxes of {@code box} with the 128-byte swizzle ({@code box[0]} must be 128 at most).
     */
    public static byte[] bytes(DeviceBuffer b, long[] dims, long[] byteStrides, int[] box) {
        if (b.dtype() != io.sparserender.engine.tensor.DType.U8 && b.dtype() != io.sparserender.engine.tensor.DType.I8) {
            throw new IllegalArgumentException("A byte tensor map needs a U8 or I8 buffer, not " + b.dtype());
        }
        if (dims.length != box.length || byteStrides.length != dims.length - 1 || box[0] > 128) {
            throw new IllegalArgumentException("Invalid tensor map: dims " + java.util.Arrays.toString(dims) + ", strides "
                    + java.util.Arrays.toString(byteStrides) + ", box " + java.util.Arrays.toString(box));
        }
        return encode(b.device(), DTYPE_UINT8, b.address(), dims, byteStrides, box);
    }

    /**
     * As {@link #bytes} with the 64-byte swizzle ({@code box[0]} must be 64 at most): operands whose K-major rows are 64
     * bytes (the 8-bit listed kernel's Vᵀ tiles of 64 keys).
     */
    public static byte[] bytes64(DeviceBuffer b, long[] dims, long[] byteStrides, int[] box) {
        if (b.dtype() != io.sparserender.engine.tensor.DType.U8 && b.dtype() != io.sparserender.engine.tensor.DType.I8) {
            throw new IllegalArgumentException("A byte tensor map needs a U8 or I8 buffer, not " + b.dtype());
        }
        if (dims.length != box.length || byteStrides.length != dims.length - 1 || box[0] > 64) {
            throw new IllegalArgumentException("Invalid tensor map: dims " + java.util.Arrays.toString(dims) + ", strides "
                    + java.util.Arrays.toString(byteStrides) + ", box " + java.util.Arrays.toString(box));
        }
        return encode(b.device(), DTYPE_UINT8, b.address(), dims, byteStrides, box, SWIZZLE_64B);
    }

    /** Encodes on the device's thread: the driver wants the context current (CUDA error 201 otherwise). */
    private static byte[] encode(CudaDevice device, int dtype, long address, long[] dims, long[] byteStrides, int[] box) {
        return encode(device, dtype, address, dims, byteStrides, box, SWIZZLE_128B);
    }

    private static byte[] encode(CudaDevice device, int dtype, long address, long[] dims, long[] byteStrides, int[] box,
                                 int swizzle) {
        if (!available()) {
            throw new GpuException("Cannot make a TMA tensor map: the project's JNI shim is not loaded ("
                    + CublasLtShim.probe().problem() + ")");
        }
        int[] elementStrides = new int[dims.length];
        java.util.Arrays.fill(elementStrides, 1);
        byte[] out = new byte[BYTES];
        int rc = device.call(() -> nativeEncodeTiled(dtype, dims.length, address, dims, byteStrides, box, elementStrides,
                INTERLEAVE_NONE, swizzle, L2_PROMOTION_128B, OOB_FILL_ZERO, out));
        if (rc != 0) {
            String why = switch (rc) {
                case -1 -> "libcuda.so.1 cannot be opened";
                case -2 -> "the driver has no cuTensorMapEncodeTiled (CUDA 12.0 or later is needed)";
                case -3 -> "rank " + dims.length + " is outside 1..5";
                default -> "cuTensorMapEncodeTiled returned CUDA error " + rc;
            };
            throw new GpuException("Cannot make a TMA tensor map (dims " + java.util.Arrays.toString(dims) + ", box "
                    + java.util.Arrays.toString(box) + "): " + why);
        }
        return out;
    }

    static native int nativeEncodeTiled(int dtype, int rank, long address, long[] dims, long[] byteStrides, int[] box,
                                        int[] elementStrides, int interleave, int swizzle, int l2Promotion, int oobFill, byte[] out);
}
