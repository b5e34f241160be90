package io.sparserender.engine.gpu;

import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.RecallBound;
import io.sparserender.engine.attention.Tiling;
import io.sparserender.engine.attention.VisitOrder;
import io.sparserender.engine.tensor.DType;
import java.util.Arrays;

/**
 * Forward attention on the device ({@code flash_attention.cu}): bf16 q, k, v {@code [B, L, H, D]},
 * fp32 output of the same shape, optional per-row LSE {@code [B, H, L]} and per-tile keep flags
 * {@code [B, H, q-tiles, kv-tiles]}, plus tile statistics. Runs the in-loop policies of
 * {@link io.sparserender.engine.attention.TiledAttention} decision for decision: dense, blasst,
 * dynsparse and recall with bound=max, with br = 64, bc = 32 or 64, order=natural, D = 64 or 128.
 * Other policies (pre-pass ones, other tilings) are refused with an {@link IllegalArgumentException}.
 */
public final class CudaAttention {
    static final String KERNEL_D64_BC64 = "flash_attn_fwd_d64_bc64";
    static final String KERNEL_D128_BC64 = "flash_attn_fwd_d128_bc64";
    static final String KERNEL_D64_BC32 = "flash_attn_fwd_d64_bc32";
    static final String KERNEL_D128_BC32 = "flash_attn_fwd_d128_bc32";
    static final String KERNEL_SM90_D64_BC64 = "flash_attn_sm90_d64_bc64";
    static final String KERNEL_SM90_D128_BC64 = "flash_attn_sm90_d128_bc64";
    static final String KERNEL_SM90_D64_BC32 = "flash_attn_sm90_d64_bc32";
    static final String KERNEL_SM90_D128_BC32 = "flash_attn_sm90_d128_bc32";
    static final String KERNEL_TRANSPOSE_V = "flash_attn_transpose_v";
    /** sm90 path: Q + two K blocks + one Vᵀ block of 64 keys, bf16, at D = 128, + 1024 to align the base. */
    static final int SM90_MAX_SMEM_BYTES = (64 + 3 * 64) * 128 * 2 + 1024;
    /** Q tile (64 x D) + two K tiles + one V tile (bc x D each), bf16, at D = 128, bc = 64. */
    static final int MAX_SMEM_BYTES = (64 + 3 * 64) * 128 * 2;
    static final int BR = 64;
    static final int THREADS = 128;
    /** LoopRule.RECALL_SLACK of the reference (package-private there); the gpu test checks recall decisions. */
    static final float RECALL_SLACK = 1e-3f;

    static final int MODE_DENSE = 0;
    static final int MODE_BLASST = 1;
    static final int MODE_DYNSPARSE = 2;
    static final int MODE_RECALL_MAX = 3;

    /** Tile statistics of one call, counted on the device. */
    public record Stats(long tilesTotal, long tilesSkippedInLoop, long flopsSaved) {
        /** Skipped tiles / all tiles. */
        public double tileSparsity() {
            return tilesTotal == 0 ? 0 : (double) tilesSkippedInLoop / tilesTotal;
        }
    }

    /** The params struct of flash_attention.cu (fa::FaParams), field for field. */
    record Params(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer keep,
                  DeviceBuffer stats, int batch, int seqLen, int heads, int mode, float scale, float threshold) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(q).ptr(k).ptr(v).ptr(out).ptr(lse).ptr(keep).ptr(stats)
                    .i32(batch).i32(seqLen).i32(heads).i32(mode).f32(scale).f32(threshold);
        }
    }

    /** The params struct of flash_attention_sm90.cu (fa90::Fa90Params), field for field. */
    record Params90(DeviceBuffer q, DeviceBuffer k, DeviceBuffer vt, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer keep,
                    DeviceBuffer stats, int batch, int seqLen, int heads, int mode, float scale, float threshold, int vtStride) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(q).ptr(k).ptr(vt).ptr(out).ptr(lse).ptr(keep).ptr(stats)
                    .i32(batch).i32(seqLen).i32(heads).i32(mode).f32(scale).f32(threshold).i32(vtStride);
        }
    }

    /** fa90::TransposeParams. */
    record TransposeParams(DeviceBuffer v, DeviceBuffer vt, int batch, int seqLen, int heads, int headDim, int vtStride) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(v).ptr(vt).i32(batch).i32(seqLen).i32(heads).i32(headDim).i32(vtStride);
        }
    }

    private final CudaDevice device;
    private final CudaKernels ops;
    private final boolean hopper;

    /** The wgmma kernel on compute 9.0, the mma.sync one elsewhere. */
    public CudaAttention(CudaDevice device) {
        this(device, true);
    }

    /** @param allowHopper use the wgmma kernel (flash_attention_sm90.cu) where the device is compute 9.0 */
    public CudaAttention(CudaDevice device, boolean allowHopper) {
        this.device = device;
        this.ops = new CudaKernels(device);
        this.hopper = allowHopper && OwnGemm.isHopper(device.info());
    }

    /** Which kernel runs. */
    public String name() {
        return hopper ? "flash_attention_sm90.cu (wgmma, 64-row q-tiles, 64-key blocks, Vᵀ pre-pass)"
                : "flash_attention.cu (mma.sync m16n8k16, 64-row q-tiles)";
    }

    /** Whether the kernel runs this policy (else {@link #forward} refuses it). */
    public static boolean supports(AttentionPolicy policy, int headDim) {
        return refusal(policy, headDim) == null;
    }

    private static String refusal(AttentionPolicy policy, int headDim) {
        Tiling t = policy.tiling();
        if (headDim != 64 && headDim != 128) {
            return "head dim " + headDim + " (the kernel has 64 and 128)";
        }
        if (t.br() != BR || (t.bc() != 32 && t.bc() != 64) || t.order() != VisitOrder.NATURAL) {
            return "tiling br=" + t.br() + ", bc=" + t.bc() + ", order=" + t.order().specName()
                    + " (the kernel has br=64, bc=32 or 64, order=natural)";
        }
        if (policy instanceof AttentionPolicy.Dense || policy instanceof AttentionPolicy.Blasst
                || policy instanceof AttentionPolicy.DynSparse) {
            return null;
        }
        if (policy instanceof AttentionPolicy.Recall r) {
            return r.bound() == RecallBound.MAX ? null : "recall bound=" + r.bound().specName() + " (the kernel has bound=max)";
        }
        return "policy " + policy.name() + " (the kernel has dense, blasst, dynsparse, recall bound=max)";
    }

    static String kernel(int headDim, int bc) {
        return headDim == 64 ? (bc == 64 ? KERNEL_D64_BC64 : KERNEL_D64_BC32)
                : (bc == 64 ? KERNEL_D128_BC64 : KERNEL_D128_BC32);
    }

    static int smemBytes(int headDim, int bc) {
        return (BR + 3 * bc) * headDim * 2;
    }

    /** The 3-counter statistics buffer the launches accumulate into (I32 x 6: three little-endian u64). */
    public DeviceBuffer newStatsBuffer() {
        return ops.allocate(DType.I32, 6);
    }

    /**
     * Runs one call and waits for it: zeroes {@code stats}, launches, reads the counters back.
     *
     * @param lse  fp32 [B, H, L] or null
     * @param keep I32 [B, H, ceil(L/64), ceil(L/bc)] or null
     */
    public Stats forward(AttentionPolicy policy, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out,
                         DeviceBuffer lse, DeviceBuffer keep, DeviceBuffer stats) {
        ops.fill(stats, 0);
        launch(policy, q, k, v, out, lse, keep, stats);
        return readStats(stats);
    }

    /** Reads the counters (synchronizing with the stream through the copy). */
    public Stats readStats(DeviceBuffer stats) {
        int[] c = stats.toIntArray();
        return new Stats(u64(c, 0), u64(c, 1), u64(c, 2));
    }

    private static long u64(int[] c, int i) {
        return (c[2 * i] & 0xFFFFFFFFL) | ((long) c[2 * i + 1] << 32);
    }

    /** Launches without waiting; counters add up in {@code stats} (zero it with {@code CudaKernels.fill} first). */
    public void launch(AttentionPolicy policy, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out,
                       DeviceBuffer lse, DeviceBuffer keep, DeviceBuffer stats) {
        int[] shape = q.shape();
        if (shape.length != 4) {
            throw new IllegalArgumentException("Cannot run attention: q has shape " + Arrays.toString(shape) + ", expected [B, L, H, D]");
        }
        for (DeviceBuffer b : new DeviceBuffer[] {q, k, v}) {
            if (b.dtype() != DType.BF16 || !Arrays.equals(b.shape(), shape)) {
                throw new IllegalArgumentException("Cannot run attention: " + b + " must be BF16 of shape " + Arrays.toString(shape));
            }
        }
        if (out.dtype() != DType.F32 || !Arrays.equals(out.shape(), shape)) {
            throw new IllegalArgumentException("Cannot run attention: out " + out + " must be F32 of shape " + Arrays.toString(shape));
        }
        int bsz = shape[0], seqLen = shape[1], heads = shape[2], headDim = shape[3];
        String why = refusal(policy, headDim);
        if (why != null) {
            throw new IllegalArgumentException("Cannot run policy '" + policy.spec() + "' on the GPU: " + why);
        }
        int bc = policy.tiling().bc();
        int nq = (seqLen + BR - 1) / BR;
        int nk = (seqLen + bc - 1) / bc;
        if (lse != null && (lse.dtype() != DType.F32 || lse.numel() != (long) bsz * heads * seqLen)) {
            throw new IllegalArgumentException("Cannot run attention: lse " + lse + " must be F32 with B*H*L elements");
        }
        if (keep != null && (keep.dtype() != DType.I32 || keep.numel() != (long) bsz * heads * nq * nk)) {
            throw new IllegalArgumentException("Cannot run attention: keep " + keep + " must be I32 with B*H*q-tiles*kv-tiles elements");
        }
        if (stats.dtype() != DType.I32 || stats.numel() != 6) {
            throw new IllegalArgumentException("Cannot run attention: stats " + stats + " must be I32 x 6");
        }
        long grid = (long) bsz * heads * nq;
        if (grid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Attention too large for one launch: " + grid + " CTAs");
        }
        int mode;
        float threshold;
        if (policy instanceof AttentionPolicy.Blasst b) {
            mode = MODE_BLASST;
            threshold = (float) b.threshold(seqLen);
        } else if (policy instanceof AttentionPolicy.DynSparse d) {
            mode = MODE_DYNSPARSE;
            threshold = (float) d.lambdaFor(seqLen);
        } else if (policy instanceof AttentionPolicy.Recall r) {
            mode = MODE_RECALL_MAX;
            threshold = (float) ((1 - r.r()) / r.r()) * (1 - RECALL_SLACK);
        } else {
            mode = MODE_DENSE;
            threshold = 0f;
        }
        float scale = (float) (1 / Math.sqrt(headDim));
        if (!hopper) {
            Params p = new Params(q, k, v, out, lse, keep, stats, bsz, seqLen, heads, mode, scale, threshold);
            device.launch(kernel(headDim, bc), (int) grid, THREADS, smemBytes(headDim, bc), new KernelArgs().struct(p.struct()));
            return;
        }
        // Vᵀ workspace from the arena: freed when this scope closes; later work on the one stream runs after.
        int vtStride = (seqLen + 7) / 8 * 8;
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer vt = ops.allocate(DType.BF16, bsz, heads, headDim, vtStride);
            TransposeParams tp = new TransposeParams(v, vt, bsz, seqLen, heads, headDim, vtStride);
            long tgrid = (long) bsz * heads * ((vtStride + 31) / 32);
            if (tgrid > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("Attention too large for one launch: " + tgrid + " transpose blocks");
            }
            device.launch(KERNEL_TRANSPOSE_V, (int) tgrid, 256, 0, new KernelArgs().struct(tp.struct()));
            Params90 p = new Params90(q, k, vt, out, lse, keep, stats, bsz, seqLen, heads, mode, scale, threshold, vtStride);
            device.launch(bc == 64 ? (headDim == 64 ? KERNEL_SM90_D64_BC64 : KERNEL_SM90_D128_BC64)
                            : (headDim == 64 ? KERNEL_SM90_D64_BC32 : KERNEL_SM90_D128_BC32),
                    (int) grid, THREADS, (64 + 3 * 64) * headDim * 2 + 1024, new KernelArgs().struct(p.struct()));
        }
    }
}
