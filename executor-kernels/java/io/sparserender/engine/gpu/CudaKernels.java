package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.HalfFloats;
import java.util.Arrays;

/**
 * The CUDA backend's operations over {@link DeviceBuffer}s, each a launch of one fatbin kernel with
 * a Java twin in {@code io.sparserender.engine.ops.reference} of the same name. Float32 and bf16
 * buffers; the arithmetic is fp32 inside every kernel, rounded once on store. Outputs may alias
 * inputs for the elementwise ops. The model-level backend over these is {@link CudaOps}.
 */
public final class CudaKernels {
    private static final int BLOCK = 256;
    private final CudaDevice device;

    public CudaKernels(CudaDevice device) {
        this.device = device;
    }

    public CudaDevice device() {
        return device;
    }

    // ---- buffers

    public DeviceBuffer allocate(DType dtype, int... shape) {
        return device.arena().allocate(dtype, shape);
    }

    /** A new float32 buffer holding {@code data}. */
    public DeviceBuffer upload(float[] data, int... shape) {
        DeviceBuffer b = allocate(DType.F32, shape);
        b.copyFrom(data);
        return b;
    }

    /** A new bf16 buffer holding {@code data} rounded to bf16 (nearest even). */
    public DeviceBuffer uploadBf16(float[] data, int... shape) {
        DeviceBuffer b = allocate(DType.BF16, shape);
        short[] s = new short[data.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = HalfFloats.floatToBf16(data[i]);
        }
        b.copyFrom(s);
        return b;
    }

    /** Sets every element's bits: 32-bit buffers to {@code bits}, 16-bit ones to its low half. */
    public void fill(DeviceBuffer b, int bits) {
        long n = b.numel();
        if (b.dtype().byteSize() == 4) {
            device.launch("fill_u32", grid(n), BLOCK, 0, new KernelArgs().ptr(b).i32(bits).i64(n));
        } else if (b.dtype().byteSize() == 2) {
            device.launch("fill_u16", grid(n), BLOCK, 0, new KernelArgs().ptr(b).i32(bits & 0xFFFF).i64(n));
        } else {
            throw new IllegalArgumentException("Cannot fill " + b);
        }
    }

    /** Uniform bf16 values in [lo, hi) from a hash of (seed, index); for benchmarks. */
    public void fillUniform(DeviceBuffer b, long seed, float lo, float hi) {
        requireDtype(b, DType.BF16, "fillUniform");
        long n = b.numel();
        device.launch("fill_uniform_bf16", grid(n), BLOCK, 0, new KernelArgs().ptr(b).i64(seed).f32(lo).f32(hi).i64(n));
    }

    // ---- elementwise.cu

    public void add(DeviceBuffer a, DeviceBuffer b, DeviceBuffer out) {
        sameShapeAndType("add", a, b, out);
        long n = out.numel();
        device.launch("elementwise_add_" + suffix(out), grid(n), BLOCK, 0, new KernelArgs().ptr(out).ptr(a).ptr(b).i64(n));
    }

    public void scale(DeviceBuffer x, float s, DeviceBuffer out) {
        sameShapeAndType("scale", x, out);
        long n = out.numel();
        device.launch("elementwise_scale_" + suffix(out), grid(n), BLOCK, 0, new KernelArgs().ptr(out).ptr(x).f32(s).i64(n));
    }

    public void silu(DeviceBuffer x, DeviceBuffer out) {
        sameShapeAndType("silu", x, out);
        long n = out.numel();
        device.launch("elementwise_silu_" + suffix(out), grid(n), BLOCK, 0, new KernelArgs().ptr(out).ptr(x).i64(n));
    }

    public void geluTanh(DeviceBuffer x, DeviceBuffer out) {
        sameShapeAndType("geluTanh", x, out);
        long n = out.numel();
        device.launch("elementwise_gelu_tanh_" + suffix(out), grid(n), BLOCK, 0, new KernelArgs().ptr(out).ptr(x).i64(n));
    }

    // ---- convert.cu

    /** float32 -> bf16 or bf16 -> float32, by the buffers' dtypes. */
    public void convert(DeviceBuffer in, DeviceBuffer out) {
        if (in.numel() != out.numel()) {
            throw new IllegalArgumentException("convert: " + in + " and " + out + " differ in size");
        }
        long n = in.numel();
        if (in.dtype() == DType.F32 && out.dtype() == DType.BF16) {
            device.launch("convert_f32_to_bf16", grid(n), BLOCK, 0, new KernelArgs().ptr(out).ptr(in).i64(n));
        } else if (in.dtype() == DType.BF16 && out.dtype() == DType.F32) {
            device.launch("convert_bf16_to_f32", grid(n), BLOCK, 0, new KernelArgs().ptr(out).ptr(in).i64(n));
        } else {
            throw new IllegalArgumentException("convert: F32 <-> BF16 only, got " + in + " -> " + out);
        }
    }

    // ---- layer_norm.cu, rms_norm.cu, softmax_rows.cu: over the last dimension

    /** LayerNorm over the last dimension; weight and bias float32 [cols] or null. */
    public void layerNorm(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer bias, float eps, DeviceBuffer out) {
        sameShapeAndType("layerNorm", x, out);
        int cols = x.dim(-1);
        long rows = x.numel() / Math.max(1, cols);
        requireVector("layerNorm weight", weight, cols);
        requireVector("layerNorm bias", bias, cols);
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(out).ptr(x).ptr(weight).ptr(bias).i64(rows).i32(cols).f32(eps);
        device.launch("layer_norm_" + suffix(out), rowGrid(rows), BLOCK, 0, new KernelArgs().struct(p));
    }

    /** RMSNorm over the last dimension; weight float32 [cols] or null. */
    public void rmsNorm(DeviceBuffer x, DeviceBuffer weight, float eps, DeviceBuffer out) {
        sameShapeAndType("rmsNorm", x, out);
        int cols = x.dim(-1);
        long rows = x.numel() / Math.max(1, cols);
        requireVector("rmsNorm weight", weight, cols);
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(out).ptr(x).ptr(weight).i64(rows).i32(cols).f32(eps);
        device.launch("rms_norm_" + suffix(out), rowGrid(rows), BLOCK, 0, new KernelArgs().struct(p));
    }

    public void softmaxRows(DeviceBuffer x, DeviceBuffer out) {
        sameShapeAndType("softmaxRows", x, out);
        int cols = x.dim(-1);
        long rows = x.numel() / Math.max(1, cols);
        device.launch("softmax_rows_" + suffix(out), rowGrid(rows), BLOCK, 0, new KernelArgs().ptr(out).ptr(x).i64(rows).i32(cols));
    }

    // ---- matrix product

    /** {@code out[M,N] = a[M,K] . b[N,K]^T} with the GEMM chosen at start. */
    public void matmul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer out) {
        device.gemm().matmul(a, b, out, 1f);
    }

    // ---- helpers

    private int grid(long n) {
        long blocks = (n + BLOCK - 1) / BLOCK;
        return (int) Math.max(1, Math.min(blocks, (long) device.multiprocessors() * 32));
    }

    private static int rowGrid(long rows) {
        return (int) Math.max(1, Math.min(rows, 1L << 30));
    }

    private static String suffix(DeviceBuffer b) {
        switch (b.dtype()) {
            case F32:
                return "f32";
            case BF16:
                return "bf16";
            default:
                throw new IllegalArgumentException("CUDA ops take F32 or BF16 buffers, not " + b);
        }
    }

    private static void requireDtype(DeviceBuffer b, DType t, String op) {
        if (b.dtype() != t) {
            throw new IllegalArgumentException(op + ": wants " + t + ", got " + b);
        }
    }

    private static void requireVector(String what, DeviceBuffer v, int cols) {
        if (v != null && (v.dtype() != DType.F32 || v.numel() != cols)) {
            throw new IllegalArgumentException(what + ": wants F32[" + cols + "], got " + v);
        }
    }

    private static void sameShapeAndType(String op, DeviceBuffer first, DeviceBuffer... rest) {
        suffix(first);
        for (DeviceBuffer b : rest) {
            if (b.dtype() != first.dtype() || !Arrays.equals(b.shape(), first.shape())) {
                throw new IllegalArgumentException(op + ": buffers differ in dtype or shape: " + first + " vs " + b);
            }
        }
    }
}
