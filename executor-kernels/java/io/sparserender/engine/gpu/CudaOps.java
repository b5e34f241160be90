package io.sparserender.engine.gpu;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.ops.Parkable;
import io.sparserender.engine.ops.SwapSlot;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.HalfFloats;
import io.sparserender.engine.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * The CUDA backend of the model's {@link Ops}: tensors are {@link DeviceBuffer}s carved from the device's
 * arena, float32 or bf16.
 *
 * <p>Precision, as the reference models keep it: parameters that are matrices or kernels are bf16
 * ({@link #parameter}); vectors (biases, norm weights, modulation tables) stay float32. Matrix products
 * run on the tensor cores with bf16 operands and fp32 accumulation and write bf16; products with few rows
 * and a float32 input (the time embeddings) run in float32. Elementwise results are float32 when any
 * operand is float32, else bf16, so the DiT's residual stream and modulation stay float32 while the
 * GEMM operands stay bf16. Every kernel computes in fp32 and rounds once on store.
 *
 * <p>Memory: operations allocate from the arena's stack; {@link #scoped} frees a body's intermediates and
 * keeps its result (moved down the stack), so a DiT forward holds one block's activations at a time.
 * All work runs on the device's GPU worker thread (call the model through {@link CudaDevice#call}).
 */
public final class CudaOps implements Ops<DeviceBuffer> {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CudaOps.class);
    private static final int BLOCK = 256;
    /** Products with at most this many rows and a float32 input run in float32 (linear_f32). */
    static final int F32_LINEAR_MAX_ROWS = 64;
    /** fp8_quantize.cu: bf16 rows to E4M3 codes with a scale per row. */
    static final String KERNEL_FP8_QUANTIZE = "fp8_quantize_rows_bf16";
    /** Weights with fewer elements keep bf16 only under {@link GemmPrecision#FP8} (embedders, the output projection). */
    public static final long FP8_MIN_WEIGHT = 1L << 20;
    /** Products with fewer rows run in bf16 under {@link GemmPrecision#FP8}: the quantisation pass would cost more. */
    public static final int FP8_MIN_ROWS = 1024;

    private final CudaDevice device;
    private final CudaKernels kernels;
    private final CpuOps host = new CpuOps();
    private final OpTimer timer;
    private final CudaVaeKernels vae;
    private CudaAttention crossAttention;
    private final GemmPrecision precision;
    /** Conv kernels packed for the implicit GEMM once, at upload (outside every memory region). */
    private final java.util.Map<DeviceBuffer, CudaVaeKernels.PackedConvWeight> packed =
            java.util.Collections.synchronizedMap(new java.util.IdentityHashMap<>());

    public CudaOps(CudaDevice device) {
        this(device, OpTimer.OFF);
    }

    /** @param timer accumulates device time per kind of operation (benchmarks); {@link OpTimer#OFF} for none */
    public CudaOps(CudaDevice device, OpTimer timer) {
        this(device, timer, GemmPrecision.configured());
    }

    /** @param precision the large linear layers' operand precision (default: {@link GemmPrecision#configured()}) */
    public CudaOps(CudaDevice device, OpTimer timer, GemmPrecision precision) {
        this.device = device;
        this.kernels = new CudaKernels(device);
        this.timer = timer;
        this.vae = new CudaVaeKernels(device);
        this.precision = precision;
    }

    public GemmPrecision precision() {
        return precision;
    }

    public CudaDevice device() {
        return device;
    }

    public CudaKernels kernels() {
        return kernels;
    }

    @Override
    public String backend() {
        return "cuda";
    }

    // ---- host transfer and layout

    @Override
    public DeviceBuffer fromHost(Tensor t) {
        DeviceBuffer b = allocate(DType.F32, t.shape());
        b.copyFrom(t.data());
        return b;
    }

    /**
     * Matrices and kernels (rank ≥ 2) as bf16, vectors as float32 with a bf16 copy beside them for the GEMM's
     * bias epilogue ({@link #prepareBias}; a few KiB per vector).
     */
    @Override
    public DeviceBuffer parameter(Tensor t) {
        if (t.rank() < 2) {
            return prepareBias(fromHost(t));
        }
        DeviceBuffer b = allocate(DType.BF16, t.shape());
        float[] d = t.data();
        short[] s = new short[d.length];
        io.sparserender.engine.tensor.ElementChunks.forEach(s.length, (from, to) -> { // on all cores: a model's load
            for (int i = from; i < to; i++) {
                s[i] = HalfFloats.floatToBf16(d[i]);
            }
        });
        b.copyFrom(s);
        if (t.rank() == 5) {
            packed.put(b, vae.packConvWeight(b));
        }
        return b;
    }

    /** As {@link #parameter}, and under {@link GemmPrecision#FP8} a large matrix gets its FP8 copy ({@link #prepareFp8}). */
    @Override
    public DeviceBuffer transformerParameter(Tensor t) {
        return prepareFp8(parameter(t));
    }

    @Override
    public Tensor toHost(DeviceBuffer t) {
        return new Tensor(t.toFloats(), t.shape());
    }

    @Override
    public int[] shape(DeviceBuffer t) {
        return t.shape();
    }

    @Override
    public DeviceBuffer reshape(DeviceBuffer t, int... shape) {
        if (DeviceBuffer.numelOf(shape) != t.numel()) {
            throw new IllegalArgumentException("Cannot reshape " + t + " to " + Arrays.toString(shape) + ": element counts differ");
        }
        return t.view(0, shape);
    }

    @Override
    public DeviceBuffer permute(DeviceBuffer t, int... axes) {
        int[] in = t.shape();
        if (axes.length != in.length) {
            throw new IllegalArgumentException("Cannot permute " + t + " with axes " + Arrays.toString(axes));
        }
        long[] inStrides = StridedLayout.contiguous(in);
        int[] out = new int[in.length];
        long[] src = new long[in.length];
        boolean[] seen = new boolean[in.length];
        for (int i = 0; i < axes.length; i++) {
            if (axes[i] < 0 || axes[i] >= in.length || seen[axes[i]]) {
                throw new IllegalArgumentException("Cannot permute " + t + " with axes " + Arrays.toString(axes));
            }
            seen[axes[i]] = true;
            out[i] = in[axes[i]];
            src[i] = inStrides[axes[i]];
        }
        DeviceBuffer o = allocate(t.dtype(), out);
        copy(o, 0, StridedLayout.contiguous(out), t, 0, src, out);
        return o;
    }

    @Override
    public DeviceBuffer slice(DeviceBuffer t, int dim, int start, int end) {
        int[] s = t.shape();
        if (dim < 0 || dim >= s.length || start < 0 || end > s[dim] || start > end) {
            throw new IllegalArgumentException("Cannot slice " + t + " at dim " + dim + " [" + start + ", " + end + ")");
        }
        long[] st = StridedLayout.contiguous(s);
        int[] out = s.clone();
        out[dim] = end - start;
        boolean leadingOnes = true;
        for (int i = 0; i < dim; i++) {
            leadingOnes &= s[i] == 1;
        }
        if (leadingOnes) {
            return t.view(start * st[dim], out);
        }
        DeviceBuffer o = allocate(t.dtype(), out);
        copy(o, 0, StridedLayout.contiguous(out), t, start * st[dim], st, out);
        return o;
    }

    /**
     * {@code table[ids[r]]} gathered on the device into float32 [ids, D] ({@code tensor_gather_rows}): the umT5 relative-position
     * bias gathers 512² rows per layer, which through the host (the default) took most of the text stage (≈ 1 s of 1.5).
     */
    @Override
    public DeviceBuffer embedding(DeviceBuffer table, int[] ids) {
        int[] s = table.shape();
        if (s.length != 2) {
            throw new IllegalArgumentException("Cannot gather embeddings: table " + table + " is not [V, D]");
        }
        io.sparserender.engine.ops.Gather.requireIds(ids, s[0]);
        DeviceBuffer out = allocate(DType.F32, ids.length, s[1]);
        long n = (long) ids.length * s[1];
        if (n == 0) {
            return out;
        }
        try (DeviceArena.Scope scope = device.arena().scope()) { // the ids are read by the launch before later work reuses them
            DeviceBuffer deviceIds = allocate(DType.I32, ids.length);
            deviceIds.copyFrom(ids);
            KernelArgs.Struct p = new KernelArgs.Struct().ptr(out).ptr(table).ptr(deviceIds).i64(ids.length).i32(s[1]).i32(bf16(table));
            timed(OpTimer.Kind.OTHER, () -> device.launch("tensor_gather_rows", grid(n), BLOCK, 0, new KernelArgs().struct(p)));
        }
        return out;
    }

    @Override
    public DeviceBuffer concat(int dim, List<DeviceBuffer> parts) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("Cannot concat no tensors");
        }
        int[] out = parts.get(0).shape();
        DType dtype = DType.BF16;
        int total = 0;
        for (DeviceBuffer p : parts) {
            int[] s = p.shape();
            if (s.length != out.length || dim < 0 || dim >= s.length) {
                throw new IllegalArgumentException("Cannot concat " + parts + " along " + dim);
            }
            for (int i = 0; i < s.length; i++) {
                if (i != dim && s[i] != out[i]) {
                    throw new IllegalArgumentException("Cannot concat " + parts + " along " + dim + ": dimension " + i + " differs");
                }
            }
            total += s[dim];
            if (p.dtype() == DType.F32) {
                dtype = DType.F32;
            }
        }
        out[dim] = total;
        DeviceBuffer o = allocate(dtype, out);
        long[] ost = StridedLayout.contiguous(out);
        long at = 0;
        for (DeviceBuffer p : parts) {
            int[] s = p.shape();
            copy(o, at * ost[dim], ost, p, 0, StridedLayout.contiguous(s), s);
            at += s[dim];
        }
        return o;
    }

    // ---- elementwise

    @Override
    public DeviceBuffer add(DeviceBuffer a, DeviceBuffer b) {
        return axpy(a, b, null, 1f);
    }

    @Override
    public DeviceBuffer sub(DeviceBuffer a, DeviceBuffer b) {
        return axpy(a, b, null, -1f);
    }

    @Override
    public DeviceBuffer mul(DeviceBuffer a, DeviceBuffer b) {
        return axpy(null, a, b, 1f);
    }

    @Override
    public DeviceBuffer addGated(DeviceBuffer x, DeviceBuffer y, DeviceBuffer gate) {
        return axpy(x, y, gate, 1f);
    }

    /**
     * Written over the stream where the result has its shape and dtype and y and gate lie elsewhere (each
     * element is read before it is written, by the same thread); else a new tensor.
     */
    @Override
    public DeviceBuffer updateResidual(DeviceBuffer stream, DeviceBuffer y, DeviceBuffer gate) {
        int[] out = gate == null ? StridedLayout.broadcastShape(stream.shape(), y.shape())
                : StridedLayout.broadcastShape(stream.shape(), y.shape(), gate.shape());
        boolean anyF32 = stream.dtype() == DType.F32 || y.dtype() == DType.F32 || gate != null && gate.dtype() == DType.F32;
        if (!Arrays.equals(out, stream.shape()) || stream.dtype() != (anyF32 ? DType.F32 : DType.BF16)
                || overlaps(stream, y) || gate != null && overlaps(stream, gate)) {
            return axpy(stream, y, gate, 1f);
        }
        axpyInto(stream, stream, y, gate, 1f, OpTimer.Kind.OTHER);
        return stream;
    }

    private static boolean overlaps(DeviceBuffer a, DeviceBuffer b) {
        return a.address() < b.address() + b.byteSize() && b.address() < a.address() + a.byteSize();
    }

    @Override
    public DeviceBuffer addScalar(DeviceBuffer a, float s) {
        return unary(a, AFFINE, 1f, s, a.dtype());
    }

    @Override
    public DeviceBuffer scale(DeviceBuffer a, float s) {
        return unary(a, AFFINE, s, 0f, a.dtype());
    }

    @Override
    public DeviceBuffer silu(DeviceBuffer a) {
        return unary(a, 1, 1f, 0f, a.dtype());
    }

    @Override
    public DeviceBuffer geluTanh(DeviceBuffer a) {
        return unary(a, GELU_TANH, 1f, 0f, a.dtype());
    }

    @Override
    public DeviceBuffer clamp(DeviceBuffer x, float lo, float hi) {
        return unary(x, 3, lo, hi, x.dtype());
    }

    // ---- VAE (conv3d_igemm*.cu, vae_ops.cu through CudaVaeKernels)

    @Override
    public DeviceBuffer conv3d(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer bias, int padH, int padW) {
        CudaVaeKernels.PackedConvWeight p = packed.get(weight);
        DeviceBuffer b = f32(bias);
        DeviceBuffer[] out = new DeviceBuffer[1];
        timed(OpTimer.Kind.GEMM, () -> out[0] = p != null ? vae.conv3d(x, p, b, padH, padW) : vae.conv3d(x, weight, b, padH, padW));
        return out[0];
    }

    @Override
    public DeviceBuffer channelRmsNorm(DeviceBuffer x, DeviceBuffer gamma, DeviceBuffer beta) {
        DeviceBuffer[] out = new DeviceBuffer[1];
        timed(OpTimer.Kind.OTHER, () -> out[0] = vae.channelRmsNorm(x, f32(gamma), f32(beta)));
        return out[0];
    }

    /** One pass (vae_ops.cu's channel_rms_norm with SiLU) instead of the norm and a SiLU pass over its output. */
    @Override
    public DeviceBuffer channelRmsNormSilu(DeviceBuffer x, DeviceBuffer gamma, DeviceBuffer beta) {
        DeviceBuffer[] out = new DeviceBuffer[1];
        timed(OpTimer.Kind.OTHER, () -> out[0] = vae.channelRmsNormSilu(x, f32(gamma), f32(beta)));
        return out[0];
    }

    @Override
    public DeviceBuffer upsampleNearest2x(DeviceBuffer x) {
        DeviceBuffer[] out = new DeviceBuffer[1];
        timed(OpTimer.Kind.OTHER, () -> out[0] = vae.upsampleNearest2x(x));
        return out[0];
    }

    @Override
    public DeviceBuffer repeatInterleave(DeviceBuffer x, int dim, int repeats) {
        DeviceBuffer[] out = new DeviceBuffer[1];
        timed(OpTimer.Kind.OTHER, () -> out[0] = vae.repeatInterleave(x, dim, repeats));
        return out[0];
    }

    /** The same values in another dtype (a copy even when the dtype is the same). */
    public DeviceBuffer convert(DeviceBuffer x, DType dtype) {
        return unary(x, AFFINE, 1f, 0f, dtype);
    }

    // ---- reductions

    @Override
    public DeviceBuffer layerNorm(DeviceBuffer x, DeviceBuffer gamma, DeviceBuffer beta, float eps) {
        DeviceBuffer o = allocate(x.dtype(), x.shape());
        timed(OpTimer.Kind.OTHER, () -> kernels.layerNorm(x, f32(gamma), f32(beta), eps, o));
        return o;
    }

    @Override
    public DeviceBuffer rmsNorm(DeviceBuffer x, DeviceBuffer gamma, float eps) {
        DeviceBuffer o = allocate(x.dtype(), x.shape());
        int cols = x.rank() == 0 ? 1 : x.dim(-1);
        long rows = x.numel() / Math.max(1, cols);
        String vec = gamma != null && gamma.numel() != cols ? null : Vec4Kernels.rmsNormRope(cols, 4, BLOCK, o, x, f32(gamma));
        if (vec == null) {
            timed(OpTimer.Kind.OTHER, () -> kernels.rmsNorm(x, f32(gamma), eps, o));
            return o;
        }
        // tensor_rms_norm_rope without tables: the norm alone, four elements at a time, in x's dtype
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(o).ptr(x).ptr(f32(gamma)).ptr(null).ptr(null)
                .i64(rows).i64(1).i32(cols).i32(2).f32(eps).i32(bf16(o)).i32(bf16(x));
        timed(OpTimer.Kind.OTHER, () -> device.launch(vec, rowGrid(rows), BLOCK, 0, new KernelArgs().struct(p)));
        return o;
    }

    @Override
    public DeviceBuffer softmax(DeviceBuffer x) {
        DeviceBuffer o = allocate(x.dtype(), x.shape());
        timed(OpTimer.Kind.OTHER, () -> kernels.softmaxRows(x, o));
        return o;
    }

    /** Fused: LayerNorm without affine and the modulation, written in bf16 (the next GEMM's operand). */
    @Override
    public DeviceBuffer adaLayerNorm(DeviceBuffer x, DeviceBuffer shift, DeviceBuffer scale, float eps) {
        int[] s = x.shape();
        int[] ms = shift.shape();
        if (s.length != 3 || ms.length != 3 || !Arrays.equals(ms, scale.shape()) || ms[0] != s[0] || ms[2] != s[2]
                || (ms[1] != 1 && ms[1] != s[1]) || shift.dtype() != scale.dtype()) {
            return Ops.super.adaLayerNorm(x, shift, scale, eps);
        }
        DeviceBuffer o = allocate(DType.BF16, s);
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(o).ptr(x).ptr(shift).ptr(scale).ptr(null).ptr(null)
                .i64((long) s[0] * s[1]).i64(s[1]).i64(ms[1]).i32(s[2]).f32(eps)
                .i32(1).i32(bf16(x)).i32(bf16(shift));
        String vec = Vec4Kernels.adaLayerNorm(s[2], BLOCK, o, x, shift, scale);
        timed(OpTimer.Kind.OTHER, () -> device.launch(vec != null ? vec : "tensor_ada_layer_norm", rowGrid((long) s[0] * s[1]), BLOCK, 0,
                new KernelArgs().struct(p)));
        return o;
    }

    /** LayerNorm written in bf16, the products' operand (tensor_ada_layer_norm without modulation): no conversion after. */
    @Override
    public DeviceBuffer layerNormForProduct(DeviceBuffer x, DeviceBuffer gamma, DeviceBuffer beta, float eps) {
        int cols = x.dim(-1);
        long rows = x.numel() / Math.max(1, cols);
        if (gamma != null && gamma.numel() != cols || beta != null && beta.numel() != cols) {
            throw new IllegalArgumentException("Cannot apply layerNorm: gamma " + gamma + " or beta " + beta + " is not [" + cols + "]");
        }
        DeviceBuffer o = allocate(DType.BF16, x.shape());
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(o).ptr(x).ptr(null).ptr(null).ptr(f32(gamma)).ptr(f32(beta))
                .i64(rows).i64(Math.max(1, rows)).i64(1).i32(cols).f32(eps)
                .i32(1).i32(bf16(x)).i32(0);
        String vec = Vec4Kernels.adaLayerNorm(cols, BLOCK, o, x, f32(gamma), f32(beta));
        timed(OpTimer.Kind.OTHER, () -> device.launch(vec != null ? vec : "tensor_ada_layer_norm", rowGrid(rows), BLOCK, 0,
                new KernelArgs().struct(p)));
        return o;
    }

    /** Fused rotary embedding; the result is bf16 (attention's operand). */
    @Override
    public DeviceBuffer rope(DeviceBuffer x, DeviceBuffer cos, DeviceBuffer sin) {
        int[] s = x.shape();
        if (s.length != 4 || s[3] % 2 != 0 || cos.dtype() != DType.F32 || sin.dtype() != DType.F32
                || cos.numel() != (long) s[1] * s[3] / 2 || sin.numel() != cos.numel()) {
            return Ops.super.rope(x, cos, sin);
        }
        DeviceBuffer o = allocate(DType.BF16, s);
        long pairs = x.numel() / 2;
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(o).ptr(x).ptr(cos).ptr(sin).i64(pairs)
                .i32(s[1]).i32(s[2]).i32(s[3] / 2).i32(1).i32(bf16(x));
        timed(OpTimer.Kind.OTHER, () -> device.launch("tensor_rope", grid(pairs), BLOCK, 0, new KernelArgs().struct(p)));
        return o;
    }

    /**
     * Fused RMSNorm and RoPE (tensor_rms_norm_rope), bf16 result written over x when x is bf16. Shapes the
     * kernel does not take (x not [B, L, H·D] with D even, tables not float32 [L·D/2], a misaligned view) go
     * through the composition.
     */
    @Override
    public DeviceBuffer rmsNormRope(DeviceBuffer x, DeviceBuffer gamma, float eps, DeviceBuffer cos, DeviceBuffer sin, int heads) {
        int[] s = x.shape();
        if (s.length != 3 || heads <= 0 || s[2] % heads != 0 || (s[2] / heads) % 2 != 0 || s[1] == 0
                || cos.dtype() != DType.F32 || sin.dtype() != DType.F32 || cos.numel() != (long) s[1] * (s[2] / heads) / 2
                || sin.numel() != cos.numel() || gamma != null && gamma.numel() != s[2] || x.address() % 8 != 0) {
            return Ops.super.rmsNormRope(x, gamma, eps, cos, sin, heads);
        }
        int d = s[2] / heads;
        DeviceBuffer o = x.dtype() == DType.BF16 ? x : allocate(DType.BF16, s);
        long rows = (long) s[0] * s[1];
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(o).ptr(x).ptr(f32(gamma)).ptr(cos).ptr(sin)
                .i64(rows).i64(s[1]).i32(s[2]).i32(d / 2).f32(eps).i32(1).i32(bf16(x));
        String vec = Vec4Kernels.rmsNormRope(s[2], d, BLOCK, o, x, f32(gamma), cos, sin);
        timed(OpTimer.Kind.OTHER, () -> device.launch(vec != null ? vec : "tensor_rms_norm_rope", rowGrid(rows), BLOCK, 0,
                new KernelArgs().struct(p)));
        return o.view(0, s[0], s[1], heads, d);
    }

    // ---- products

    @Override
    public DeviceBuffer linear(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer bias) {
        return linear(x, weight, bias, false);
    }

    /** GELU(tanh) in cuBLASLt's epilogue with the bias (one rounding to bf16), else an in-place pass after the product. */
    @Override
    public DeviceBuffer linearGeluTanh(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer bias) {
        return linear(x, weight, bias, true);
    }

    private DeviceBuffer linear(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer bias, boolean gelu) {
        int[] s = x.shape();
        int in = s[s.length - 1];
        if (weight.rank() != 2 || weight.dim(1) != in) {
            throw new IllegalArgumentException("Cannot apply linear: x " + x + ", weight " + weight + " (expected [..., in] and [out, in])");
        }
        int out = weight.dim(0);
        if (bias != null && bias.numel() != out) {
            throw new IllegalArgumentException("Cannot apply linear: bias " + bias + " is not [" + out + "]");
        }
        long rows = x.numel() / Math.max(1, in);
        if (rows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Cannot apply linear: " + rows + " rows exceed one GEMM");
        }
        int[] os = s.clone();
        os[os.length - 1] = out;
        if (x.dtype() == DType.F32 && rows <= F32_LINEAR_MAX_ROWS) {
            DeviceBuffer o = allocate(DType.F32, os);
            KernelArgs.Struct p = new KernelArgs.Struct().ptr(o).ptr(x).ptr(weight).ptr(f32(bias))
                    .i32((int) rows).i32(out).i32(in).i32(bf16(x)).i32(bf16(weight));
            long warps = rows * out;
            timed(OpTimer.Kind.GEMM, () -> device.launch("tensor_linear_f32", grid(warps * 32), BLOCK, 0, new KernelArgs().struct(p)));
            if (gelu) {
                unaryInto(o, o, GELU_TANH, 1f, 0f);
            }
            return o;
        }
        DeviceBuffer a = (x.dtype() == DType.BF16 ? x : convert(x, DType.BF16)).view(0, (int) rows, in);
        DeviceBuffer w = weight.dtype() == DType.BF16 ? weight : convert(weight, DType.BF16);
        DeviceBuffer o = allocate(DType.BF16, os);
        product(a, w, o.view(0, (int) rows, out), bias, gelu);
        return o;
    }

    /**
     * o = a·wᵀ (+ bias), then GELU(tanh) when asked: both in the GEMM's epilogue where the GEMM fuses them
     * (cuBLASLt, the bias read from its bf16 copy made by {@link #prepareBias}), else each in place by a pass
     * of its own after the product.
     */
    private void product(DeviceBuffer a, DeviceBuffer w, DeviceBuffer o, DeviceBuffer bias, boolean gelu) {
        Gemm gemm = device.gemm();
        Fp8Matrix w8 = precision == GemmPrecision.FP8 && o.dtype() == DType.BF16 && a.dim(0) >= FP8_MIN_ROWS
                ? device.fp8Weights().of(w) : null;
        if (w8 != null && productFp8(gemm, a, w8, o, bias)) {
            if (gelu) {
                unaryInto(o, o, GELU_TANH, 1f, 0f);
            }
            return;
        }
        // GELU is fused only into float32 output: cuBLASLt's GELU epilogue into bf16 measured off by up to 1.5 % of
        // the result (GemmGpuTest), so a bf16 product takes the bias epilogue and GELU as a pass of its own.
        boolean geluFused = gelu && o.dtype() == DType.F32;
        Gemm.Epilogue epilogue = geluFused ? (bias == null ? Gemm.Epilogue.GELU : Gemm.Epilogue.GELU_BIAS)
                : (bias == null ? null : Gemm.Epilogue.BIAS);
        boolean[] fused = {false};
        if (epilogue != null) {
            DeviceBuffer eb = bias == null ? null : epilogueBias(bias, o.dtype());
            if (bias == null || eb != null) {
                timed(OpTimer.Kind.GEMM, () -> fused[0] = gemm.matmul(a, w, o, epilogue, eb));
            }
        }
        if (fused[0]) {
            if (gelu && !geluFused) {
                unaryInto(o, o, GELU_TANH, 1f, 0f);
            }
            return;
        }
        timed(OpTimer.Kind.GEMM, () -> gemm.matmul(a, w, o, 1f));
        if (bias != null) {
            // in place: o = o + bias (broadcast over rows)
            axpyInto(o, o, f32(bias), null, 1f, OpTimer.Kind.GEMM);
        }
        if (gelu) {
            unaryInto(o, o, GELU_TANH, 1f, 0f);
        }
    }

    /**
     * o = a·wᵀ (+ bias) from FP8 operands: a quantized per row into scratch freed after the product (stream order keeps it
     * valid for the GEMM), the bias in the GEMM's epilogue where it has a bf16 copy, else a pass of its own. False, having
     * written nothing, where cuBLASLt has no FP8 product for the shape.
     */
    private boolean productFp8(Gemm gemm, DeviceBuffer a, Fp8Matrix w8, DeviceBuffer o, DeviceBuffer bias) {
        DeviceBuffer eb = bias == null ? null : epilogueBias(bias, DType.BF16);
        boolean done;
        try (DeviceArena.Scope scratch = device.arena().scope()) {
            Fp8Matrix a8 = quantizeFp8Rows(a);
            boolean[] r = {false};
            timed(OpTimer.Kind.GEMM, () -> r[0] = gemm.matmulFp8(a8, w8, o, eb == null ? null : Gemm.Epilogue.BIAS, eb));
            done = r[0];
        }
        if (done && bias != null && eb == null) {
            axpyInto(o, o, f32(bias), null, 1f, OpTimer.Kind.GEMM);
        }
        return done;
    }

    /** The bias in the output's dtype, as the epilogue reads it: itself, or its bf16 copy; null where there is none. */
    private DeviceBuffer epilogueBias(DeviceBuffer bias, DType out) {
        if (bias.dtype() == out) {
            return bias;
        }
        return out == DType.BF16 && bias.dtype() == DType.F32 ? device.epilogueBiases().bf16Of(bias) : null;
    }

    /**
     * Makes, once, the bf16 copy of a float32 vector that the GEMM's bias epilogue reads when it writes bf16
     * (cuBLASLt takes the bias in the output's type), right after the vector, so the copy lives and moves with
     * it. {@link #parameter} does this for every vector; code that makes bias vectors on the device itself
     * (benchmarks with random weights) calls it, right after making the vector. A vector that is not the
     * arena's last buffer gets no copy (it would not live and die with the vector), and a linear whose bias
     * has no copy adds the bias in a pass of its own. Returns {@code v}.
     */
    public DeviceBuffer prepareBias(DeviceBuffer v) {
        if (v.dtype() == DType.F32 && device.arena().isLastMade(v) && device.epilogueBiases().bf16Of(v) == null) {
            device.epilogueBiases().put(v, convert(v, DType.BF16));
        }
        return v;
    }

    /**
     * Under {@link GemmPrecision#FP8}, makes once the FP8 copy of a bf16 weight matrix [out, in] of at least
     * {@link #FP8_MIN_WEIGHT} elements that the products read, right after the matrix so the copy lives and moves with it
     * (as {@link #prepareBias}); {@link #transformerParameter} does this for the DiT's matrices, code that makes weights on the device
     * (benchmarks) calls it right after making one. Otherwise, and for a matrix that is not the arena's last buffer, does
     * nothing. Returns {@code w}.
     */
    public DeviceBuffer prepareFp8(DeviceBuffer w) {
        if (precision == GemmPrecision.FP8 && w.dtype() == DType.BF16 && w.rank() == 2 && w.numel() >= FP8_MIN_WEIGHT
                && device.arena().isLastMade(w) && device.fp8Weights().of(w) == null) {
            device.fp8Weights().put(w, quantizeFp8Rows(w));
        }
        return w;
    }

    /** Each row of a bf16 matrix [rows, cols] as E4M3 codes with one scale ({@code fp8_quantize.cu}; twin {@code Fp8Rows}). */
    public Fp8Matrix quantizeFp8Rows(DeviceBuffer x) {
        if (x.dtype() != DType.BF16 || x.rank() != 2) {
            throw new IllegalArgumentException("Cannot quantize to FP8: want a BF16 [rows, cols] matrix, got " + x);
        }
        int rows = x.dim(0), cols = x.dim(1);
        return quantizeFp8Rows(x, new Fp8Matrix(allocate(DType.U8, rows, cols), allocate(DType.F32, rows)));
    }

    /** As {@link #quantizeFp8Rows(DeviceBuffer)} into {@code out} (codes of x's shape). Returns {@code out}. */
    public Fp8Matrix quantizeFp8Rows(DeviceBuffer x, Fp8Matrix out) {
        if (x.dtype() != DType.BF16 || x.rank() != 2 || out.rows() != x.dim(0) || out.cols() != x.dim(1)) {
            throw new IllegalArgumentException("Cannot quantize to FP8: want a BF16 [rows, cols] matrix and codes of its shape, got "
                    + x + " into " + out.codes());
        }
        int rows = x.dim(0), cols = x.dim(1);
        DeviceBuffer codes = out.codes(), scales = out.scales();
        boolean vec = cols % 8 == 0 && x.address() % 16 == 0 && codes.address() % 8 == 0;
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(x).ptr(codes).ptr(scales).i64(rows).i32(cols).i32(vec ? 1 : 0);
        if (rows > 0 && cols > 0) {
            timed(OpTimer.Kind.GEMM, () -> device.launch(KERNEL_FP8_QUANTIZE, rows, 256, 0, new KernelArgs().struct(p)));
        }
        return out;
    }

    @Override
    public DeviceBuffer attention(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, float scale, DeviceBuffer bias,
                                  DeviceBuffer keyMask) {
        int[] qs = q.shape();
        int[] ks = k.shape();
        if (qs.length != 4 || ks.length != 4 || qs[0] != ks[0] || qs[2] != ks[2] || qs[3] != ks[3]
                || !Arrays.equals(ks, v.shape())) {
            throw new IllegalArgumentException("Cannot attend: q " + q + ", k " + k + ", v " + v
                    + " (expected [B, L, H, D] with equal B, H, D)");
        }
        int b = qs[0], lq = qs[1], h = qs[2], d = qs[3], lk = ks[1];
        boolean batchedBias = bias != null && bias.rank() == 4;
        if (bias != null && !(batchedBias ? Arrays.equals(bias.shape(), new int[] {b, h, lq, lk})
                : Arrays.equals(bias.shape(), new int[] {h, lq, lk}))) {
            throw new IllegalArgumentException("Cannot attend: bias " + bias + " is not [H, Lq, Lk] or [B, H, Lq, Lk]");
        }
        if (keyMask != null && !Arrays.equals(keyMask.shape(), new int[] {b, lk})) {
            throw new IllegalArgumentException("Cannot attend: key mask " + keyMask + " is not [B, Lk]");
        }
        if (d != 64 && d != 128) {
            return attentionByGemms(q, k, v, scale, bias, batchedBias, keyMask);
        }
        DeviceBuffer qb = bf16Of(q);
        DeviceBuffer kb = bf16Of(k);
        DeviceBuffer vb = bf16Of(v);
        DeviceBuffer biasF = f32(bias);
        DeviceBuffer maskF = f32(keyMask);
        DeviceBuffer o = allocate(DType.BF16, qs);
        if (bias == null && keyMask == null) {
            boolean[] ran = {false};
            timed(OpTimer.Kind.ATTENTION, () -> ran[0] = crossAttention().denseCross(qb, kb, vb, o, scale));
            if (ran[0]) {
                return o; // the ws kernel (compute 9.0, D = 128): the DiT's cross-attention
            }
        }
        int nq = (lq + 63) / 64;
        long grid = (long) b * h * nq;
        if (grid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Attention too large for one launch: " + grid + " CTAs");
        }
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(qb).ptr(kb).ptr(vb).ptr(o).ptr(biasF).ptr(maskF)
                .i64(batchedBias ? (long) h * lq * lk : 0L).i32(b).i32(lq).i32(lk).i32(h).f32(scale).i32(1);
        timed(OpTimer.Kind.ATTENTION, () -> device.launch(d == 64 ? "dense_attention_d64" : "dense_attention_d128", (int) grid,
                128, denseAttentionSmem(d), new KernelArgs().struct(p)));
        return o;
    }

    /** The attention kernels for {@link #attention} without bias or mask, made on first use. */
    private CudaAttention crossAttention() {
        if (crossAttention == null) {
            crossAttention = new CudaAttention(device);
        }
        return crossAttention;
    }

    /**
     * Attention for head widths the fused kernel lacks (the VAE's single 1024-wide head, tiny test models):
     * per (batch, head) S = q·kᵀ·scale (+ bias, masked keys at −1e30) in float32 by GEMM, softmax over rows,
     * o = P·v by GEMM with bf16 operands. Memory: one [Lq, Lk] score matrix at a time.
     */
    private DeviceBuffer attentionByGemms(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, float scale, DeviceBuffer bias,
                                          boolean batchedBias, DeviceBuffer keyMask) {
        int[] qs = q.shape();
        int b = qs[0], lq = qs[1], h = qs[2], d = qs[3], lk = k.dim(1);
        DeviceBuffer out = allocate(DType.BF16, qs);
        DeviceBuffer maskAdd = null;
        if (keyMask != null) {
            // (mask − 1)·1e30: 0 for kept keys, −1e30 for excluded ones
            maskAdd = unary(f32(keyMask), AFFINE, 1e30f, -1e30f, DType.F32);
        }
        long[] st = StridedLayout.contiguous(qs);
        long[] kst = StridedLayout.contiguous(k.shape());
        for (int bi = 0; bi < b; bi++) {
            for (int hi = 0; hi < h; hi++) {
                try (DeviceArena.Scope scope = device.arena().scope()) {
                    DeviceBuffer qh = allocate(DType.BF16, lq, d);
                    copy(qh, 0, new long[] {d, 1}, q, bi * st[0] + hi * st[2], new long[] {st[1], st[3]}, new int[] {lq, d});
                    DeviceBuffer kh = allocate(DType.BF16, lk, d);
                    copy(kh, 0, new long[] {d, 1}, k, bi * kst[0] + hi * kst[2], new long[] {kst[1], kst[3]}, new int[] {lk, d});
                    DeviceBuffer vt = allocate(DType.BF16, d, lk);
                    copy(vt, 0, new long[] {lk, 1}, v, bi * kst[0] + hi * kst[2], new long[] {kst[3], kst[1]}, new int[] {d, lk});
                    DeviceBuffer scores = allocate(DType.F32, lq, lk);
                    timed(OpTimer.Kind.ATTENTION, () -> device.gemm().matmul(qh, kh, scores, scale));
                    if (bias != null) {
                        long off = ((batchedBias ? (long) bi * h : 0) + hi) * lq * lk;
                        axpyInto(scores, scores, f32(bias).view(off, lq, lk), null, 1f, OpTimer.Kind.ATTENTION);
                    }
                    if (maskAdd != null) {
                        axpyInto(scores, scores, maskAdd.view((long) bi * lk, 1, lk), null, 1f, OpTimer.Kind.ATTENTION);
                    }
                    DeviceBuffer p = allocate(DType.F32, lq, lk);
                    timed(OpTimer.Kind.ATTENTION, () -> kernels.softmaxRows(scores, p));
                    DeviceBuffer pb = convert(p, DType.BF16);
                    DeviceBuffer oh = allocate(DType.BF16, lq, d);
                    timed(OpTimer.Kind.ATTENTION, () -> device.gemm().matmul(pb, vt, oh, 1f));
                    copy(out, bi * st[0] + hi * st[2], new long[] {st[1], st[3]}, oh, 0, new long[] {d, 1}, new int[] {lq, d});
                }
            }
        }
        return out;
    }

    static int denseAttentionSmem(int headDim) {
        return (64 + 3 * 64) * headDim * 2;
    }

    @Override
    public DeviceBuffer zeros(int... shape) {
        DeviceBuffer o = allocate(DType.F32, shape);
        kernels.fill(o, 0);
        return o;
    }

    // ---- memory

    @Override
    public DeviceBuffer scoped(Supplier<DeviceBuffer> body) {
        DeviceArena arena = device.arena();
        DeviceArena.Scope scope = arena.scope();
        DeviceBuffer r;
        try {
            r = body.get();
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
        return arena.closeKeeping(scope, r);
    }

    @Override
    public io.sparserender.engine.ops.MemoryRegion<DeviceBuffer> region() {
        DeviceArena arena = device.arena();
        DeviceArena.Scope first = arena.scope();
        return new io.sparserender.engine.ops.MemoryRegion<>() {
            private DeviceArena.Scope scope = first;

            @Override
            public List<DeviceBuffer> compact(List<DeviceBuffer> keep) {
                DeviceArena.Compacted c = arena.compact(scope, keep);
                scope = c.scope();
                return c.kept();
            }

            @Override
            public DeviceBuffer closeKeeping(DeviceBuffer keep) {
                return arena.closeKeeping(scope, keep);
            }

            @Override
            public void close() {
                scope.close();
            }
        };
    }

    @Override
    public <R> R run(Supplier<R> body) {
        return device.call(body::get);
    }

    /** What {@code load} allocates becomes one arena range, parked to pinned host memory on request. */
    @Override
    public <R> Parkable<R> parkable(Supplier<R> load) {
        DeviceArena arena = device.arena();
        long from = arena.usedBytes();
        R value = load.get();
        DeviceArena.ParkedRange range = arena.rangeFrom(from);
        return new Parkable<>(value, new Parkable.Mover() {
            @Override
            public boolean park() {
                return arena.park(range);
            }

            @Override
            public void unpark() {
                arena.unpark(range);
            }

            @Override
            public void prepare() {
                arena.saveToHost(range);
            }
        });
    }

    /**
     * The first load's bytes become one arena range; each later load is made at the same place after the previous
     * one's bytes were saved in pinned host memory, and must produce the same allocation layout. {@code get(i)}
     * copies thing i's saved bytes back over the range. Without enough pinned host memory for all of them, every
     * thing is loaded resident, one above the other.
     */
    @Override
    public <R> SwapSlot<R> swapSlot(List<Supplier<R>> loads) {
        if (loads.size() < 2) {
            return SwapSlot.allResident(loads.stream().map(Supplier::get).toList());
        }
        DeviceArena arena = device.arena();
        long from = arena.usedBytes();
        arena.resetLayoutHash();
        List<R> values = new ArrayList<>();
        values.add(loads.get(0).get());
        long to = arena.usedBytes();
        long layout = arena.layoutHash();
        long bytes = to - from;
        List<PinnedHostMemory> hosts = new ArrayList<>();
        for (int i = 0; i < loads.size(); i++) {
            PinnedHostMemory h = arena.pinnedHost(bytes);
            if (h == null) {
                hosts.forEach(arena::freePinned);
                LOG.warn("The host cannot pin {} x {} for {} same-shaped models: all stay in device memory", loads.size(),
                        GpuException.mib(bytes), loads.size());
                for (int j = 1; j < loads.size(); j++) {
                    values.add(loads.get(j).get());
                }
                return SwapSlot.allResident(values);
            }
            hosts.add(h);
        }
        arena.copyToHost(from, hosts.get(0));
        for (int i = 1; i < loads.size(); i++) {
            arena.dropTo(from);
            arena.resetLayoutHash();
            values.add(loads.get(i).get());
            if (arena.usedBytes() != to || arena.layoutHash() != layout) {
                throw new IllegalStateException("Cannot share device memory between loads: load " + i + " took "
                        + (arena.usedBytes() - from) + " bytes (layout hash " + arena.layoutHash() + "), load 0 took " + bytes
                        + " bytes (layout hash " + layout + ")");
            }
            arena.copyToHost(from, hosts.get(i));
        }
        LOG.info("{} same-shaped models share {} of device memory; the others wait in pinned host memory", loads.size(),
                GpuException.mib(bytes));
        return new SwapSlot<>(values, loads.size() - 1, i -> arena.copyFromHost(hosts.get(i), from));
    }

    @Override
    public long memoryInUse() {
        return device.arena().usedBytes();
    }

    @Override
    public long memoryPeak() {
        return device.arena().peakBytes();
    }

    @Override
    public void resetMemoryPeak() {
        device.arena().resetPeak();
    }

    // ---- helpers

    private DeviceBuffer allocate(DType dtype, int... shape) {
        return device.arena().allocate(dtype, shape);
    }

    private DeviceBuffer f32(DeviceBuffer b) {
        return b == null || b.dtype() == DType.F32 ? b : convert(b, DType.F32);
    }

    private DeviceBuffer bf16Of(DeviceBuffer b) {
        return b.dtype() == DType.BF16 ? b : convert(b, DType.BF16);
    }

    private static int bf16(DeviceBuffer b) {
        if (b.dtype() != DType.F32 && b.dtype() != DType.BF16) {
            throw new IllegalArgumentException("CUDA ops take F32 or BF16 tensors, not " + b);
        }
        return b.dtype() == DType.BF16 ? 1 : 0;
    }

    /** tensor_unary's op codes (tensor_ops.cu). */
    private static final int AFFINE = 0;
    private static final int GELU_TANH = 2;

    private DeviceBuffer unary(DeviceBuffer x, int op, float mul, float add, DType outType) {
        DeviceBuffer o = allocate(outType, x.shape());
        unaryInto(o, x, op, mul, add);
        return o;
    }

    /** o = f(x) elementwise over contiguous buffers of equal size; o may be x. */
    private void unaryInto(DeviceBuffer o, DeviceBuffer x, int op, float mul, float add) {
        long n = x.numel();
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(o).ptr(x).i64(n).i32(op).i32(bf16(o)).i32(bf16(x)).f32(mul).f32(add);
        boolean vec = Vec4Kernels.unary(o, x);
        timed(OpTimer.Kind.OTHER, () -> device.launch(vec ? Vec4Kernels.UNARY : "tensor_unary", grid(vec ? n / 4 : n), BLOCK, 0,
                new KernelArgs().struct(p)));
    }

    /** out = (a ? a : 0) + s·b·(c ? c : 1), broadcast; float32 when any operand is. */
    private DeviceBuffer axpy(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, float s) {
        List<int[]> shapes = new ArrayList<>();
        boolean anyF32 = false;
        for (DeviceBuffer t : new DeviceBuffer[] {a, b, c}) {
            if (t != null) {
                shapes.add(t.shape());
                anyF32 |= t.dtype() == DType.F32;
            }
        }
        int[] out = StridedLayout.broadcastShape(shapes.toArray(new int[0][]));
        DeviceBuffer o = allocate(anyF32 ? DType.F32 : DType.BF16, out);
        axpyInto(o, a, b, c, s, OpTimer.Kind.OTHER);
        return o;
    }

    private void axpyInto(DeviceBuffer o, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, float s, OpTimer.Kind kind) {
        int[] out = o.shape();
        List<long[]> strides = new ArrayList<>();
        strides.add(StridedLayout.contiguous(out));
        for (DeviceBuffer t : new DeviceBuffer[] {a, b, c}) {
            strides.add(t == null ? new long[out.length] : StridedLayout.broadcastStrides(t.shape(), out));
        }
        StridedLayout l = new StridedLayout(out, strides).collapsed();
        int rank = l.shape().length;
        if (rank > StridedLayout.MAX_RANK) {
            throw new IllegalArgumentException("Broadcast of rank " + rank + " exceeds the kernel's " + StridedLayout.MAX_RANK);
        }
        // The kernel walks the output contiguously: its strides are the layout's first operand, which
        // collapsed() keeps contiguous; the inputs' strides follow.
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(o).ptr(a).ptr(b).ptr(c).i64(o.numel());
        for (int k = 1; k <= 3; k++) {
            putStrides(p, l.strides().get(k));
        }
        putShape(p, l.shape());
        p.i32(rank).i32(bf16(o)).i32(a == null ? 0 : bf16(a)).i32(bf16(b)).i32(c == null ? 0 : bf16(c)).f32(s);
        long n = o.numel();
        boolean vec = Vec4Kernels.axpy(l, o, a, b, c);
        timed(kind, () -> device.launch(vec ? Vec4Kernels.AXPY : "tensor_broadcast_axpy", grid(vec ? n / 4 : n), BLOCK, 0,
                new KernelArgs().struct(p)));
    }

    /** dst[dstOffset + Σ i·dstStride] = src[srcOffset + Σ i·srcStride] over {@code shape}, converting dtypes. */
    private void copy(DeviceBuffer dst, long dstOffset, long[] dstStrides, DeviceBuffer src, long srcOffset, long[] srcStrides,
                      int[] shape) {
        StridedLayout l = new StridedLayout(shape, List.of(dstStrides, srcStrides)).collapsed();
        int rank = l.shape().length;
        if (rank > StridedLayout.MAX_RANK) {
            throw new IllegalArgumentException("Copy of rank " + rank + " exceeds the kernel's " + StridedLayout.MAX_RANK);
        }
        long n = l.numel();
        if (n == 0) {
            return;
        }
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(dst).ptr(src).i64(n).i64(dstOffset).i64(srcOffset);
        putStrides(p, l.strides().get(0));
        putStrides(p, l.strides().get(1));
        putShape(p, l.shape());
        p.i32(rank).i32(bf16(dst)).i32(bf16(src));
        boolean vec = Vec4Kernels.copy(l, dst, dstOffset, src, srcOffset);
        timed(OpTimer.Kind.OTHER, () -> device.launch(vec ? Vec4Kernels.COPY : "tensor_strided_copy", grid(vec ? n / 4 : n), BLOCK, 0,
                new KernelArgs().struct(p)));
    }

    private static void putStrides(KernelArgs.Struct p, long[] strides) {
        for (int i = 0; i < StridedLayout.MAX_RANK; i++) {
            p.i64(i < strides.length ? strides[i] : 0L);
        }
    }

    private static void putShape(KernelArgs.Struct p, int[] shape) {
        for (int i = 0; i < StridedLayout.MAX_RANK; i++) {
            p.i32(i < shape.length ? shape[i] : 1);
        }
    }

    private void timed(OpTimer.Kind kind, Runnable launch) {
        timer.time(device, kind, launch);
    }

    private int grid(long n) {
        long blocks = (n + BLOCK - 1) / BLOCK;
        return (int) Math.max(1, Math.min(blocks, (long) device.multiprocessors() * 32));
    }

    private static int rowGrid(long rows) {
        return (int) Math.max(1, Math.min(rows, 1L << 30));
    }
}
