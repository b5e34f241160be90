package io.sparserender.engine.gpu;

import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * Page-locked host memory of any size, held as chunks of at most {@link #CHUNK_BYTES}: JCuda wraps every
 * {@code cuMemAllocHost} in a {@code ByteBuffer}, whose capacity is an int, so one allocation of more than 2 GiB
 * fails ("capacity < 0") or, past 4 GiB, silently wraps. Copies go chunk by chunk at matching device offsets.
 */
public final class PinnedHostMemory {
    /** The largest single pinned allocation. */
    public static final long CHUNK_BYTES = 1L << 30;

    private final CudaDevice device;
    private final List<Pointer> chunks;
    private final long bytes;

    private PinnedHostMemory(CudaDevice device, List<Pointer> chunks, long bytes) {
        this.device = device;
        this.chunks = chunks;
        this.bytes = bytes;
    }

    /** {@code bytes} of pinned host memory, or null (nothing kept) when the host cannot pin that much; the CUDA code of the refusal goes to {@code refusal[0]}. */
    static PinnedHostMemory allocate(CudaDevice device, long bytes, int[] refusal) {
        if (bytes < 0) {
            throw new IllegalArgumentException("Invalid pinned host size " + bytes + " bytes");
        }
        List<Pointer> chunks = new ArrayList<>();
        for (long off = 0; off < bytes; off += CHUNK_BYTES) {
            long n = Math.min(CHUNK_BYTES, bytes - off);
            Pointer p = new Pointer();
            int rc = device.call(() -> JCudaDriver.cuMemAllocHost(p, n));
            if (rc != 0) {
                chunks.forEach(c -> device.run(() -> JCudaDriver.cuMemFreeHost(c)));
                refusal[0] = rc;
                return null;
            }
            chunks.add(p);
        }
        return new PinnedHostMemory(device, chunks, bytes);
    }

    public long bytes() {
        return bytes;
    }

    /** Copies device bytes [src, src + bytes()) here (after the work queued before it on the legacy stream). */
    void copyFrom(CUdeviceptr src, String what) {
        for (int i = 0; i < chunks.size(); i++) {
            long off = i * CHUNK_BYTES;
            long n = Math.min(CHUNK_BYTES, bytes - off);
            Pointer dst = chunks.get(i);
            CUdeviceptr from = src.withByteOffset(off);
            device.run(() -> CudaCheck.check(JCudaDriver.cuMemcpyDtoH(dst, from, n), "cuMemcpyDtoH", what));
        }
    }

    /** Copies these bytes to device bytes [dst, dst + bytes()). */
    void copyTo(CUdeviceptr dst, String what) {
        for (int i = 0; i < chunks.size(); i++) {
            long off = i * CHUNK_BYTES;
            long n = Math.min(CHUNK_BYTES, bytes - off);
            Pointer src = chunks.get(i);
            CUdeviceptr to = dst.withByteOffset(off);
            device.run(() -> CudaCheck.check(JCudaDriver.cuMemcpyHtoD(to, src, n), "cuMemcpyHtoD", what));
        }
    }

    /** Frees the chunks (called on the device's thread or while it stops). */
    void free() {
        for (Pointer p : chunks) {
            JCudaDriver.cuMemFreeHost(p);
        }
        chunks.clear();
    }
}
