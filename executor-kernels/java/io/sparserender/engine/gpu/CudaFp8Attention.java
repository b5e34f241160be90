package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;
import java.util.Arrays;
import java.util.List;

/**
 * Dense attention on 8-bit tensor cores on compute 9.0 ({@code flash_attention_sm90_ws_fp8.cu}, the "ws-fp8" kernel
 * family's dense path; SageAttention's INT8 QKᵀ and FP8 PV on FlashAttention-3's FP8 structure): bf16 q, k, v
 * {@code [B, L, H, 128]} are quantized on the device ({@code attention_fp8_quantize.cu}: Q INT8 per row, K INT8 per
 * 128-key block, V FP8 E4M3 per channel, each with one float scale), then the warp-specialised kernel runs both
 * products at 2× bf16's tensor rate, QKᵀ accumulated exactly in int32 and P rounded to E4M3 in registers. Output bf16 or float32, optional log-sum-exp. Java twin: {@link io.sparserender.engine.attention.Fp8Attention}
 * (quantization bit for bit, the forward within the tolerance its class comment gives).
 */
public final class CudaFp8Attention {
    static final String KERNEL = "flash_attn_sm90ws_fp8_dense_d128";
    /** The listed policies with no in-loop rule at br = 128, bc = 64 ({@code flash_attention_sm90_ws_fp8_list128.cu}). */
    static final String KERNEL_LIST128 = "flash_attn_sm90ws_fp8_list128_dense_d128_bc64";
    static final String QUANTIZE_Q = "attn_fp8_quantize_q";
    static final String QUANTIZE_K = "attn_fp8_quantize_k";
    static final String V_AMAX = "attn_fp8_v_amax";
    static final String QUANTIZE_VT = "attn_fp8_quantize_vt";
    /** Every entry point above (KernelModule looks them up once). */
    static final List<String> KERNELS = List.of(KERNEL, KERNEL_LIST128, QUANTIZE_Q, QUANTIZE_K, V_AMAX, QUANTIZE_VT);
    static final int HEAD_DIM = 128;
    static final int BLOCK = 128;
    /** Q (128 rows) + two stages of K and of Vᵀ (128 keys), one byte per element, + 1024 alignment. */
    static final int SMEM_BYTES = (128 + 4 * BLOCK) * HEAD_DIM + 1024;
    static final int THREADS = 384;
    /** Q (128 rows) + two stages of a pair of 64-key K and Vᵀ tiles, one byte per element, + 1024 alignment. */
    static final int LIST_SMEM_BYTES = (128 + 4 * BLOCK) * HEAD_DIM + 1024;

    /**
     * The kernel's operands: Q and K INT8 codes [B, L, H, 128] with scales [B, H, L] and [B, H, ceil(L/128)]; Vᵀ codes
     * [B, H, 128, vtStride] (keys permuted within each 32-key chunk, the kernel's P order) with scales [B, H, 128].
     */
    public record Operands(DeviceBuffer q, DeviceBuffer qScales, DeviceBuffer k, DeviceBuffer kScales, DeviceBuffer vt,
                           DeviceBuffer vScales, int batch, int seqLen, int heads, int vtStride) {}

    /** fa90ws8::Params, field for field. */
    record Params(DeviceBuffer qScales, DeviceBuffer kScales, DeviceBuffer vScales, DeviceBuffer out, DeviceBuffer lse,
                  DeviceBuffer stats, int kvTiles, int batch, int seqLen, int heads, float scale) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(qScales).ptr(kScales).ptr(vScales).ptr(out).ptr(lse).ptr(stats)
                    .i32(kvTiles).i32(batch).i32(seqLen).i32(heads).f32(scale).i32(out.dtype() == DType.BF16 ? 1 : 0);
        }
    }

    /** fa90ws8l::ListParams, field for field. */
    record ListParams(DeviceBuffer qScales, DeviceBuffer kScales, DeviceBuffer vScales, DeviceBuffer out, DeviceBuffer lse,
                      DeviceBuffer keep, DeviceBuffer stats, int batch, int seqLen, int heads, float scale,
                      AttentionPlanner.DevicePlan plan) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(qScales).ptr(kScales).ptr(vScales).ptr(out).ptr(lse).ptr(keep).ptr(stats)
                    .i32(batch).i32(seqLen).i32(heads).f32(scale).i32(out.dtype() == DType.BF16 ? 1 : 0)
                    .ptr(plan.list()).ptr(plan.count()).i64(plan.listBhStride());
        }
    }

    /** attn8::QuantizeParams. */
    private record QuantizeParams(DeviceBuffer in, DeviceBuffer out, DeviceBuffer scale, int batch, int seqLen, int heads) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(in).ptr(out).ptr(scale).i32(batch).i32(seqLen).i32(heads);
        }
    }

    /** attn8::VParams. */
    private record VParams(DeviceBuffer v, DeviceBuffer amax, DeviceBuffer vt, DeviceBuffer scale, int batch, int seqLen,
                           int heads, int vtStride) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(v).ptr(amax).ptr(vt).ptr(scale).i32(batch).i32(seqLen).i32(heads).i32(vtStride);
        }
    }

    private final CudaDevice device;
    private final CudaKernels ops;

    public CudaFp8Attention(CudaDevice device) {
        this.device = device;
        this.ops = new CudaKernels(device);
    }

    /** Whether the FP8 kernel runs here: compute 9.0 with TMA tensor maps. */
    public static boolean runsOn(CudaDevice device) {
        return OwnGemm.isHopper(device.info()) && TensorMaps.available();
    }

    /** Quantizes q, k, v (bf16 [B, L, H, 128]) into new arena buffers, without waiting. */
    public Operands quantize(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v) {
        int[] shape = q.shape();
        if (shape.length != 4 || shape[3] != HEAD_DIM) {
            throw new IllegalArgumentException("Cannot run FP8 attention: q " + q + " must be [B, L, H, 128]");
        }
        for (DeviceBuffer b : new DeviceBuffer[] {q, k, v}) {
            if (b.dtype() != DType.BF16 || !Arrays.equals(b.shape(), shape)) {
                throw new IllegalArgumentException("Cannot run FP8 attention: " + b + " must be BF16 of shape " + Arrays.toString(shape));
            }
        }
        int bsz = shape[0], seqLen = shape[1], heads = shape[2];
        int nb = (seqLen + BLOCK - 1) / BLOCK;
        int vtStride = (seqLen + 31) / 32 * 32;
        long rows = (long) bsz * seqLen * heads;
        long kBlocks = (long) bsz * heads * nb;
        long vtBlocks = (long) bsz * heads * ((vtStride + 63) / 64);
        if ((rows + 7) / 8 > Integer.MAX_VALUE || vtBlocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("FP8 attention too large for one launch: " + rows + " rows");
        }
        DeviceBuffer q8 = ops.allocate(DType.I8, shape);
        DeviceBuffer qs = ops.allocate(DType.F32, bsz, heads, seqLen);
        DeviceBuffer k8 = ops.allocate(DType.I8, shape);
        DeviceBuffer ks = ops.allocate(DType.F32, bsz, heads, nb);
        DeviceBuffer vt8 = ops.allocate(DType.U8, bsz, heads, HEAD_DIM, vtStride);
        DeviceBuffer vs = ops.allocate(DType.F32, bsz, heads, HEAD_DIM);
        DeviceBuffer amax = ops.allocate(DType.I32, bsz, heads, HEAD_DIM);
        device.launch(QUANTIZE_Q, (int) ((rows + 7) / 8), 256, 0,
                new KernelArgs().struct(new QuantizeParams(q, q8, qs, bsz, seqLen, heads).struct()));
        device.launch(QUANTIZE_K, (int) kBlocks, 256, 0,
                new KernelArgs().struct(new QuantizeParams(k, k8, ks, bsz, seqLen, heads).struct()));
        ops.fill(amax, 0);
        VParams vp = new VParams(v, amax, vt8, vs, bsz, seqLen, heads, vtStride);
        device.launch(V_AMAX, (int) kBlocks, 128, 0, new KernelArgs().struct(vp.struct()));
        device.launch(QUANTIZE_VT, (int) vtBlocks, 256, 0, new KernelArgs().struct(vp.struct()));
        return new Operands(q8, qs, k8, ks, vt8, vs, bsz, seqLen, heads, vtStride);
    }

    /**
     * Runs the kernel over quantized operands into {@code out} [B, L, H, 128] (BF16 or F32), {@code lse} F32 [B, H, L]
     * or null; the tile counter (ceil(L / bc) tiles per 64-row q-tile, as the bf16 kernels count dense at that bc) adds
     * into {@code stats}. Without waiting.
     */
    public void launch(Operands in, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer stats, float scale, int bc) {
        if (bc < 1) {
            throw new IllegalArgumentException("Cannot run FP8 attention: bc " + bc + " must be positive");
        }
        int ctas = ctas(in, out, lse);
        int bsz = in.batch(), seqLen = in.seqLen(), heads = in.heads();
        byte[] mv = TensorMaps.bytes(in.vt(), new long[] {in.vtStride(), HEAD_DIM, (long) bsz * heads},
                new long[] {in.vtStride(), (long) HEAD_DIM * in.vtStride()}, new int[] {BLOCK, HEAD_DIM, 1});
        Params p = new Params(in.qScales(), in.kScales(), in.vScales(), out, lse, stats, (seqLen + bc - 1) / bc, bsz, seqLen,
                heads, scale);
        device.launch(KERNEL, ctas, THREADS, SMEM_BYTES, new KernelArgs().bytes(rowMap(in.q(), in, 64)).bytes(rowMap(in.k(), in, BLOCK))
                .bytes(mv).struct(p.struct()));
    }

    /**
     * Runs the 8-bit listed kernel over quantized operands and a br = 128, bc = 64 plan ({@link AttentionPlanner}: per
     * 128-row q-tile a list of 64-key kv-tiles), the listed policies with no in-loop rule. Keep flags (I32 [B, H,
     * ceil(L/128), ceil(L/64)]) and counters as the bf16 listed kernels write them. Without waiting.
     */
    public void launchListed(Operands in, AttentionPlanner.DevicePlan plan, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer keep,
                             DeviceBuffer stats, float scale) {
        int ctas = ctas(in, out, lse);
        int bsz = in.batch(), seqLen = in.seqLen(), heads = in.heads();
        byte[] mv = TensorMaps.bytes64(in.vt(), new long[] {in.vtStride(), HEAD_DIM, (long) bsz * heads},
                new long[] {in.vtStride(), (long) HEAD_DIM * in.vtStride()}, new int[] {64, HEAD_DIM, 1});
        ListParams p = new ListParams(in.qScales(), in.kScales(), in.vScales(), out, lse, keep, stats, bsz, seqLen, heads, scale, plan);
        device.launch(KERNEL_LIST128, ctas, THREADS, LIST_SMEM_BYTES, new KernelArgs().bytes(rowMap(in.q(), in, 64))
                .bytes(rowMap(in.k(), in, 64)).bytes(mv).struct(p.struct()));
    }

    /** Checks out and lse against the operands' shape; the grid, one CTA per 128 q rows of each (batch row, head). */
    private static int ctas(Operands in, DeviceBuffer out, DeviceBuffer lse) {
        int[] shape = {in.batch(), in.seqLen(), in.heads(), HEAD_DIM};
        if (!Arrays.equals(out.shape(), shape) || (out.dtype() != DType.F32 && out.dtype() != DType.BF16)) {
            throw new IllegalArgumentException("Cannot run FP8 attention: out " + out + " must be F32 or BF16 of shape "
                    + Arrays.toString(shape));
        }
        if (lse != null && (lse.dtype() != DType.F32 || lse.numel() != (long) in.batch() * in.heads() * in.seqLen())) {
            throw new IllegalArgumentException("Cannot run FP8 attention: lse " + lse + " must be F32 with B*H*L elements");
        }
        long ctas = (long) in.batch() * in.heads() * ((in.seqLen() + 127) / 128);
        if (ctas > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("FP8 attention too large for one launch: " + ctas + " CTAs");
        }
        return (int) ctas;
    }

    /** The tensor map of Q's or K's codes, [128, H, L, B] in boxes of {128, 1, boxRows, 1} (128-byte swizzle). */
    private static byte[] rowMap(DeviceBuffer codes, Operands in, int boxRows) {
        long rowBytes = (long) in.heads() * HEAD_DIM;
        return TensorMaps.bytes(codes, new long[] {HEAD_DIM, in.heads(), in.seqLen(), in.batch()},
                new long[] {HEAD_DIM, rowBytes, in.seqLen() * rowBytes}, new int[] {HEAD_DIM, 1, boxRows, 1});
    }

    /** Quantizes and runs in one arena scope (the operands are freed when it returns; the stream orders later work). */
    public void forward(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer stats,
                        float scale, int bc) {
        try (DeviceArena.Scope scope = device.arena().scope()) {
            launch(quantize(q, k, v), out, lse, stats, scale, bc);
        }
    }
}
