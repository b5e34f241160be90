package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;

/**
 * Launches {@code tma_probe.cu}: one 64 × 64 bf16 box loaded by TMA through a tensor map into shared memory with
 * the 128-byte swizzle and read back row-major. The check that the TMA path (shim-encoded descriptor, grid-constant
 * parameter, mbarrier transaction count, swizzle layout) works on this card before a kernel builds on it.
 */
public final class TmaProbe {
    static final String KERNEL = "tma_probe_load_box";
    /** Rows and columns of the box. */
    public static final int BOX = 64;

    private TmaProbe() {}

    /** The box with top-left element (row0, col0) of the matrix {@code map} describes, as read through it: [64, 64] bf16. */
    public static DeviceBuffer loadBox(CudaDevice device, byte[] map, int row0, int col0) {
        if (map.length != TensorMaps.BYTES) {
            throw new IllegalArgumentException("A tensor map has " + TensorMaps.BYTES + " bytes, not " + map.length);
        }
        DeviceBuffer out = device.arena().allocate(DType.BF16, BOX, BOX);
        device.launch(KERNEL, 1, 128, BOX * BOX * 2 + 1024, new KernelArgs().bytes(map).i32(row0).i32(col0).ptr(out));
        return out;
    }
}
