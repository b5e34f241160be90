package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;
import java.util.Arrays;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * A typed, shaped region of device memory carved from the device's {@link DeviceArena}: bf16, f16,
 * f32 or i32, row-major. Copies check the host array's type and length against the buffer on every
 * call and run on the device's GPU worker thread. A buffer dies with the arena scope that made it.
 */
public final class DeviceBuffer {
    private final CudaDevice device;
    private final DType dtype;
    private final int[] shape;
    private final long numel;
    private final long address;
    private final CUdeviceptr pointer;
    /** The arena buffer whose storage this view shares; null for a buffer the arena made. */
    private final DeviceBuffer owner;
    private volatile boolean released;

    DeviceBuffer(CudaDevice device, DType dtype, int[] shape, long address, CUdeviceptr pointer) {
        this(device, dtype, shape, address, pointer, null);
    }

    private DeviceBuffer(CudaDevice device, DType dtype, int[] shape, long address, CUdeviceptr pointer, DeviceBuffer owner) {
        this.device = device;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.numel = numelOf(shape);
        this.address = address;
        this.pointer = pointer;
        this.owner = owner;
    }

    /**
     * A view of {@code numel(shape)} elements starting {@code elementOffset} elements into this buffer, with
     * this buffer's dtype; it lives and dies with the arena buffer it shares storage with.
     */
    public DeviceBuffer view(long elementOffset, int... shape) {
        long n = numelOf(shape);
        if (elementOffset < 0 || elementOffset + n > numel) {
            throw new IllegalArgumentException("Cannot view " + n + " elements at offset " + elementOffset + " of " + this);
        }
        long bytes = elementOffset * dtype.byteSize();
        return new DeviceBuffer(device, dtype, shape, address() + bytes, pointer().withByteOffset(bytes),
                owner == null ? this : owner);
    }

    /** Whether both name the same first element. */
    public boolean sameStart(DeviceBuffer other) {
        return address == other.address;
    }

    static long numelOf(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("Invalid shape " + Arrays.toString(shape) + ": negative dimension");
            }
            n *= d;
        }
        return n;
    }

    public DType dtype() {
        return dtype;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Dimension i; negative counts from the end. */
    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public long numel() {
        return numel;
    }

    public long byteSize() {
        return numel * dtype.byteSize();
    }

    /** The device address, for kernel arguments. */
    public long address() {
        checkLive();
        return address;
    }

    public CudaDevice device() {
        return device;
    }

    CUdeviceptr pointer() {
        checkLive();
        return pointer;
    }

    void release() {
        released = true;
    }

    public boolean isReleased() {
        return released || owner != null && owner.released;
    }

    private void checkLive() {
        if (isReleased()) {
            throw new IllegalStateException("Device buffer " + this + " was used after its arena scope closed");
        }
    }

    // ---- host -> device

    public void copyFrom(float[] host) {
        requireType(DType.F32, "float[]");
        requireLength(host.length);
        copyIn(Pointer.to(host));
    }

    /** bf16 or f16 bit patterns. */
    public void copyFrom(short[] host) {
        if (dtype != DType.BF16 && dtype != DType.F16) {
            throw new IllegalArgumentException("Cannot copy short[] into " + this + ": needs a BF16 or F16 buffer");
        }
        requireLength(host.length);
        copyIn(Pointer.to(host));
    }

    public void copyFrom(int[] host) {
        requireType(DType.I32, "int[]");
        requireLength(host.length);
        copyIn(Pointer.to(host));
    }

    /** U8 or I8 bytes (FP8 codes, masks). */
    public void copyFrom(byte[] host) {
        if (dtype != DType.U8 && dtype != DType.I8) {
            throw new IllegalArgumentException("Cannot copy byte[] into " + this + ": needs a U8 or I8 buffer");
        }
        requireLength(host.length);
        copyIn(Pointer.to(host));
    }

    /** Copies {@code src} (same dtype and element count) into this buffer, ordered on the compute stream. */
    public void copyFromDevice(DeviceBuffer src) {
        if (src.dtype != dtype || src.numel != numel) {
            throw new IllegalArgumentException("Cannot copy " + src + " into " + this + ": dtype or size differ");
        }
        CUdeviceptr dst = pointer();
        CUdeviceptr from = src.pointer();
        long bytes = byteSize();
        device.run(() -> CudaCheck.check(JCudaDriver.cuMemcpyDtoDAsync(dst, from, bytes, device.stream()),
                "cuMemcpyDtoDAsync", "buffer " + src + " -> " + this));
    }

    // ---- device -> host

    public float[] toFloatArray() {
        requireType(DType.F32, "float[]");
        float[] out = new float[hostLength()];
        copyOut(Pointer.to(out));
        return out;
    }

    /** bf16 or f16 bit patterns. */
    public short[] toShortArray() {
        if (dtype != DType.BF16 && dtype != DType.F16) {
            throw new IllegalArgumentException("Cannot copy " + this + " into short[]: needs a BF16 or F16 buffer");
        }
        short[] out = new short[hostLength()];
        copyOut(Pointer.to(out));
        return out;
    }

    /** U8 or I8 bytes (FP8 codes, masks). */
    public byte[] toByteArray() {
        if (dtype != DType.U8 && dtype != DType.I8) {
            throw new IllegalArgumentException("Cannot copy " + this + " into byte[]: needs a U8 or I8 buffer");
        }
        byte[] out = new byte[hostLength()];
        copyOut(Pointer.to(out));
        return out;
    }

    public int[] toIntArray() {
        requireType(DType.I32, "int[]");
        int[] out = new int[hostLength()];
        copyOut(Pointer.to(out));
        return out;
    }

    /** Any float dtype, widened to float32 on the host. */
    public float[] toFloats() {
        switch (dtype) {
            case F32:
                return toFloatArray();
            case BF16:
            case F16: { // decoded on all cores: the DiT's 2 × 5.2 M outputs per step wait for this with the device idle
                short[] s = toShortArray();
                float[] f = new float[s.length];
                boolean bf16 = dtype == DType.BF16;
                io.sparserender.engine.tensor.ElementChunks.forEach(s.length, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        f[i] = bf16 ? io.sparserender.engine.tensor.HalfFloats.bf16ToFloat(s[i])
                                : io.sparserender.engine.tensor.HalfFloats.f16ToFloat(s[i]);
                    }
                });
                return f;
            }
            default:
                throw new IllegalArgumentException("Cannot read " + this + " as floats");
        }
    }

    private int hostLength() {
        if (numel > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("Cannot copy " + this + " into one Java array: " + numel + " elements");
        }
        return (int) numel;
    }

    private void requireType(DType want, String host) {
        if (dtype != want) {
            throw new IllegalArgumentException("Cannot copy between " + host + " and " + this + ": needs a " + want + " buffer");
        }
    }

    private void requireLength(int length) {
        if (length != numel) {
            throw new IllegalArgumentException("Cannot copy " + length + " host elements into " + this
                    + ", which holds " + numel);
        }
    }

    private void copyIn(Pointer host) {
        CUdeviceptr dst = pointer();
        long bytes = byteSize();
        device.run(() -> CudaCheck.check(JCudaDriver.cuMemcpyHtoD(dst, host, bytes), "cuMemcpyHtoD", "buffer " + this));
    }

    private void copyOut(Pointer host) {
        CUdeviceptr src = pointer();
        long bytes = byteSize();
        device.run(() -> CudaCheck.check(JCudaDriver.cuMemcpyDtoH(host, src, bytes), "cuMemcpyDtoH", "buffer " + this));
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape) + "@0x" + Long.toHexString(address);
    }
}
