package io.sparserender.engine.gpu;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.AttentionStats;
import io.sparserender.engine.attention.RecallBound;
import io.sparserender.engine.attention.Tiling;
import io.sparserender.engine.attention.VisitOrder;
import io.sparserender.engine.tensor.DType;
import java.util.Arrays;
import java.util.List;

/**
 * Forward attention on the device ({@code flash_attention.cu}, {@code flash_attention_sm90.cu}): bf16 q,
 * k, v {@code [B, L, H, D]}, fp32 output of the same shape, optional per-row LSE {@code [B, H, L]} and
 * per-tile keep flags {@code [B, H, q-tiles, kv-tiles]} (1 kept, 0 skipped in the loop, 2 skipped before
 * QKᵀ), plus tile statistics. Runs every policy of {@link io.sparserender.engine.attention.TiledAttention}
 * decision for decision at br = 64, bc = 32 or 64, D = 64 or 128, any L, and the listed policies (below) also at
 * br = 128, bc = 64, D = 128 on the ws family; other tilings and head dims are refused with an
 * {@link IllegalArgumentException}.
 *
 * <p>Two paths. dense, blasst, dynsparse and recall bound=max in natural order run the unlisted kernels
 * (the dense fast path). Everything else, i.e. topk, topp, hybrid, recall bound=exact|binned and orders
 * local and estimate, runs the pre-pass ({@link AttentionPlanner}: per q-tile a list of kv-tiles) and
 * the listed kernels, which visit only the listed tiles in list order.
 *
 * <p>Which kernels ({@link AttentionKernel}): on compute 9.0 the unlisted policies run on
 * {@code flash_attention_sm90_ws.cu} at D = 128 (ws, the default: a TMA producer warpgroup and two consumer warpgroups
 * of 64 q rows per CTA) or {@code flash_attention_sm90.cu} (wg1: a CTA of one warpgroup, 64 q rows, two CTAs per SM;
 * its lean entry points, wg1-lean, also what ws runs at D = 64) or
 * {@code flash_attention_sm90_2wg.cu} (wg2: a CTA of two warpgroups, 128 q rows, sharing each K and V block;
 * measured slower) or wg1-pv (wg1 with the PV product of a block issued beside the next block's QKᵀ, so both run
 * under that block's softmax, as FlashAttention-3's intra-warpgroup overlap); the listed
 * policies on {@code flash_attention_sm90_ws_list.cu} under ws at D = 128, bc = 64 ({@link #wsListed}; at br = 128
 * {@code flash_attention_sm90_ws_list128.cu}, whose two consumers share the q-tile's list and K/V blocks), else on
 * {@code flash_attention_sm90.cu}'s listed kernels; mma-sync and other cards run
 * {@code flash_attention.cu}. Decisions, keep flags and statistics are the same for all of them.
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
    static final String KERNEL_SM90PV_D64_BC64 = "flash_attn_sm90pv_d64_bc64";
    static final String KERNEL_SM90PV_D128_BC64 = "flash_attn_sm90pv_d128_bc64";
    static final String KERNEL_SM90PV_D64_BC32 = "flash_attn_sm90pv_d64_bc32";
    static final String KERNEL_SM90PV_D128_BC32 = "flash_attn_sm90pv_d128_bc32";
    static final String KERNEL_SM90LEAN_D64_BC64 = "flash_attn_sm90lean_d64_bc64";
    static final String KERNEL_SM90LEAN_D128_BC64 = "flash_attn_sm90lean_d128_bc64";
    static final String KERNEL_SM90LEAN_D64_BC32 = "flash_attn_sm90lean_d64_bc32";
    static final String KERNEL_SM90LEAN_D128_BC32 = "flash_attn_sm90lean_d128_bc32";
    static final String KERNEL_SM90WS_DENSE_D128_BC64 = "flash_attn_sm90ws_dense_d128_bc64";
    static final String KERNEL_SM90WS_DENSE_D128_BC32 = "flash_attn_sm90ws_dense_d128_bc32";
    /** ws's rule entry points, one per in-loop rule (a template parameter of the kernel): modes 1, 2, 3 at bc 64 and 32. */
    static final List<String> KERNELS_SM90WS_RULES = List.of(
            "flash_attn_sm90ws_blasst_d128_bc64", "flash_attn_sm90ws_dynsparse_d128_bc64", "flash_attn_sm90ws_recall_d128_bc64",
            "flash_attn_sm90ws_blasst_d128_bc32", "flash_attn_sm90ws_dynsparse_d128_bc32", "flash_attn_sm90ws_recall_d128_bc32");
    /** ws's listed entry points (D = 128, bc = 64, rings of two stages): dense, then modes 1, 2, 3. */
    static final List<String> KERNELS_SM90WS_LIST = List.of("flash_attn_sm90ws_list_dense_d128_bc64",
            "flash_attn_sm90ws_list_blasst_d128_bc64", "flash_attn_sm90ws_list_dynsparse_d128_bc64",
            "flash_attn_sm90ws_list_recall_d128_bc64");
    /** flash_attention_sm90_ws_list128.cu: the listed policies at br = 128, by mode (dense, blasst, dynsparse, recall bound=max). */
    static final List<String> KERNELS_SM90WS_LIST128 = List.of("flash_attn_sm90ws_list128_dense_d128_bc64",
            "flash_attn_sm90ws_list128_blasst_d128_bc64", "flash_attn_sm90ws_list128_dynsparse_d128_bc64",
            "flash_attn_sm90ws_list128_recall_d128_bc64");
    /** The q-tile height of flash_attention_sm90_ws_list128.cu, the only kernel that runs br = 128. */
    public static final int BR_WS_LIST128 = 128;
    /**
     * flash_attention_sm90_ws_list.cu: Q (128 rows) + per consumer two K stages and one Vᵀ stage of a pair of 64-key
     * tiles (128 keys), bf16, D = 128, + 1024 to align: 225 KiB.
     */
    static final int SM90WS_LIST_SMEM_BYTES = (128 + 2 * 3 * 128) * 128 * 2 + 1024;
    /** flash_attention_sm90_ws_list128.cu: Q (128 rows) + two stages of K and of Vᵀ blocks (128 keys), bf16, D = 128, + 1024. */
    static final int SM90WS_LIST128_SMEM_BYTES = (128 + 4 * 128) * 128 * 2 + 1024;
    /** flash_attention_sm90_ws.cu: Q (128 rows) + two stages of K and of Vᵀ (128 keys), bf16, D = 128, + 1024 alignment. */
    static final int SM90WS_SMEM_BYTES = (128 + 4 * 128) * 128 * 2 + 1024;
    static final int THREADS_WS = 384;
    static final String KERNEL_SM90_2WG_D64_BC64 = "flash_attn_sm90_2wg_d64_bc64";
    static final String KERNEL_SM90_2WG_D128_BC64 = "flash_attn_sm90_2wg_d128_bc64";
    static final String KERNEL_SM90_2WG_D64_BC32 = "flash_attn_sm90_2wg_d64_bc32";
    static final String KERNEL_SM90_2WG_D128_BC32 = "flash_attn_sm90_2wg_d128_bc32";
    static final String KERNEL_TRANSPOSE_V = "flash_attn_transpose_v";
    static final String KERNEL_LIST_D64_BC64 = "flash_attn_list_d64_bc64";
    static final String KERNEL_LIST_D128_BC64 = "flash_attn_list_d128_bc64";
    static final String KERNEL_LIST_D64_BC32 = "flash_attn_list_d64_bc32";
    static final String KERNEL_LIST_D128_BC32 = "flash_attn_list_d128_bc32";
    static final String KERNEL_SM90_LIST_D64_BC64 = "flash_attn_sm90_list_d64_bc64";
    static final String KERNEL_SM90_LIST_D128_BC64 = "flash_attn_sm90_list_d128_bc64";
    static final String KERNEL_SM90_LIST_D64_BC32 = "flash_attn_sm90_list_d64_bc32";
    static final String KERNEL_SM90_LIST_D128_BC32 = "flash_attn_sm90_list_d128_bc32";
    /** sm90 path: Q + two K blocks + one Vᵀ block of 64 keys, bf16, at D = 128, + 1024 to align the base. */
    static final int SM90_MAX_SMEM_BYTES = sm90SmemBytes(128);
    /** sm90 PV-overlapped path (wg1-pv): as wg1 with two Vᵀ blocks, at D = 128. */
    static final int SM90PV_MAX_SMEM_BYTES = sm90PvSmemBytes(128);
    /** sm90 two-warpgroup path: two Q tiles + two K blocks + two Vᵀ blocks, bf16, at D = 128, + 1024 to align the base. */
    static final int SM90_2WG_MAX_SMEM_BYTES = sm90TwoWgSmemBytes(128);
    /** Threads of a two-warpgroup CTA (128 q rows). */
    static final int THREADS_2WG = 256;
    /** Q tile (64 x D) + two K tiles + one V tile (bc x D each), bf16, at D = 128, bc = 64. */
    static final int MAX_SMEM_BYTES = (64 + 3 * 64) * 128 * 2;
    /** Query rows per q-tile (the policies' br; keep flags are [B, H, ceil(L/BR), ceil(L/bc)]). */
    public static final int BR = 64;
    static final int THREADS = 128;
    /** LoopRule.RECALL_SLACK of the reference (package-private there); the gpu test checks recall decisions. */
    static final float RECALL_SLACK = 1e-3f;

    static final int MODE_DENSE = 0;
    static final int MODE_BLASST = 1;
    static final int MODE_DYNSPARSE = 2;
    static final int MODE_RECALL_MAX = 3;
    static final int MODE_RECALL_EXACT = 4;
    static final int MODE_RECALL_BINNED = 5;

    /**
     * Tile statistics of one call, counted on the device: all tiles, those skipped in the loop and before
     * QKᵀ, and the QKᵀ + PV FLOPs saved (2·rows·cols·D per in-loop skip, 4·rows·cols·D per pre-pass skip).
     */
    public record Stats(long tilesTotal, long tilesSkippedInLoop, long tilesSkippedBeforeQk, long flopsSaved) {
        /** The counters as the kernels leave them: eight I32 words, four little-endian 64-bit counters. */
        public static Stats fromWords(int[] c) {
            if (c.length != 8) {
                throw new IllegalArgumentException("Attention counters are 8 I32 words, got " + c.length);
            }
            return new Stats(u64(c, 0), u64(c, 1), u64(c, 3), u64(c, 2));
        }

        /** Skipped tiles (both kinds) / all tiles. */
        public double tileSparsity() {
            return tilesTotal == 0 ? 0 : (double) (tilesSkippedInLoop + tilesSkippedBeforeQk) / tilesTotal;
        }

        /** The reference's statistics record for this call (no exact part). */
        public AttentionStats toAttentionStats(AttentionPolicy policy, int batch, int seqLen, int heads, int headDim) {
            double dense = 4.0 * batch * heads * (double) seqLen * seqLen * headDim;
            return new AttentionStats(policy.spec(), batch, seqLen, heads, headDim, policy.tiling().br(), policy.tiling().bc(),
                    tilesTotal, tilesSkippedInLoop, tilesSkippedBeforeQk, tileSparsity(), flopsSaved / dense,
                    null, null, null, null);
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

    /**
     * The params struct of flash_attention_sm90.cu (fa90::Fa90Params), field for field: kvLen keys (seqLen but in
     * {@link #denseCross}), out in bf16 where it is a BF16 buffer (the ws kernels only).
     */
    record Params90(DeviceBuffer q, DeviceBuffer k, DeviceBuffer vt, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer keep,
                    DeviceBuffer stats, int batch, int seqLen, int heads, int mode, float scale, float threshold, int vtStride,
                    int kvLen) {
        Params90(DeviceBuffer q, DeviceBuffer k, DeviceBuffer vt, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer keep,
                 DeviceBuffer stats, int batch, int seqLen, int heads, int mode, float scale, float threshold, int vtStride) {
            this(q, k, vt, out, lse, keep, stats, batch, seqLen, heads, mode, scale, threshold, vtStride, seqLen);
        }

        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(q).ptr(k).ptr(vt).ptr(out).ptr(lse).ptr(keep).ptr(stats)
                    .i32(batch).i32(seqLen).i32(heads).i32(mode).f32(scale).f32(threshold).i32(vtStride).i32(kvLen)
                    .i32(out.dtype() == DType.BF16 ? 1 : 0);
        }
    }

    /** fa::FaListParams / fa90::Fa90ListParams: the base params, then the plan's lists. */
    static KernelArgs.Struct listStruct(KernelArgs.Struct base, AttentionPlanner.DevicePlan plan) {
        return base.ptr(plan.list()).ptr(plan.count()).i64(plan.listBhStride());
    }

    /** fa90::TransposeParams. */
    record TransposeParams(DeviceBuffer v, DeviceBuffer vt, int batch, int seqLen, int heads, int headDim, int vtStride) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(v).ptr(vt).i32(batch).i32(seqLen).i32(heads).i32(headDim).i32(vtStride);
        }
    }

    private final CudaDevice device;
    private final CudaKernels ops;
    private final AttentionPlanner planner;
    private final boolean hopper;
    /** The kernel family of the unlisted policies here: the chosen one on compute 9.0, mma-sync elsewhere. */
    private final AttentionKernel family;
    /** ws-fp8's dense path, made at its first call. */
    private CudaFp8Attention fp8;

    /** The configured kernel ({@link AttentionKernel#configured()}: ws unless set) on compute 9.0, mma.sync elsewhere. */
    public CudaAttention(CudaDevice device) {
        this(device, true);
    }

    /** @param allowHopper use the configured wgmma kernel where the device is compute 9.0, else mma.sync everywhere */
    public CudaAttention(CudaDevice device, boolean allowHopper) {
        this(device, allowHopper ? AttentionKernel.configured() : AttentionKernel.MMA_SYNC);
    }

    /** @param kernel the kernel family; wg1 and wg2 fall back to mma.sync on cards other than compute 9.0 */
    public CudaAttention(CudaDevice device, AttentionKernel kernel) {
        this.device = device;
        this.ops = new CudaKernels(device);
        this.planner = new AttentionPlanner(device);
        this.hopper = kernel != AttentionKernel.MMA_SYNC && OwnGemm.isHopper(device.info());
        this.family = !hopper ? AttentionKernel.MMA_SYNC
                : (kernel == AttentionKernel.WS || kernel == AttentionKernel.WS_FP8) && !TensorMaps.available()
                ? AttentionKernel.WG1_LEAN : kernel;
    }

    /** Whether the ws kernels run here (ws, or ws-fp8: ws with FP8 dense). */
    private boolean ws() {
        return family == AttentionKernel.WS || family == AttentionKernel.WS_FP8;
    }

    /** Which kernel runs. */
    public String name() {
        return switch (family) {
            case WG2 -> "flash_attention_sm90_2wg.cu (wgmma, CTA of two warpgroups = 128 q rows sharing each K/V block; "
                    + "listed policies on flash_attention_sm90.cu)";
            case WG1_PV -> "flash_attention_sm90.cu, PV-overlapped (wgmma, 64-row q-tiles, 64-key blocks, PV of a block under "
                    + "the next block's softmax; listed policies on the wg1 listed kernels)";
            case WG1_LEAN -> "flash_attention_sm90.cu, lean (wgmma, 64-row q-tiles, 64-key blocks; S overwritten by its first "
                    + "k-step, O rescaled only by warps whose max moved; listed policies on the wg1 listed kernels)";
            case WS -> "flash_attention_sm90_ws.cu (TMA producer warpgroup, two consumer warpgroups of 64 q rows, 128-key "
                    + "blocks; D = 128; D = 64 on wg1-lean; listed policies at D = 128, bc = 64 on flash_attention_sm90_ws_list.cu "
                    + "(br = 64) and flash_attention_sm90_ws_list128.cu (br = 128), the others on the wg1 listed kernels)";
            case WS_FP8 -> "flash_attention_sm90_ws_fp8.cu for dense at D = 128 (INT8 Q and K, FP8 E4M3 Vᵀ and P; scales per "
                    + "Q row, K block and V channel), every other policy as on ws";
            case WG1 -> "flash_attention_sm90.cu (wgmma, 64-row q-tiles, 64-key blocks, Vᵀ pre-pass)";
            case MMA_SYNC -> "flash_attention.cu (mma.sync m16n8k16, 64-row q-tiles)";
        };
    }

    /** The kernel family that runs the unlisted policies here (wg1 and wg2 are mma-sync off compute 9.0). */
    public AttentionKernel kernel() {
        return family;
    }

    /**
     * The kernel family that runs this policy at this head dim: on compute 9.0 the listed policies run ws's listed
     * kernels where {@link #wsListed} says so, else wg1's listed kernels.
     */
    public AttentionKernel kernelFor(AttentionPolicy policy, int headDim) {
        if (hopper && !unlisted(policy)) {
            return fp8Listed(policy, headDim) ? AttentionKernel.WS_FP8
                    : wsListed(policy, headDim) ? AttentionKernel.WS : AttentionKernel.WG1;
        }
        return family;
    }

    /**
     * Whether this policy's kernel here can write its output in bf16 (the ws kernels, D = 128): the caller may then
     * pass a BF16 {@code out}, the next product's operand, instead of float32 and a conversion pass. The other
     * kernels write float32 only.
     */
    public boolean writesBf16(AttentionPolicy policy, int headDim) {
        AttentionKernel k = kernelFor(policy, headDim);
        return hopper && headDim == 128 && (k == AttentionKernel.WS || k == AttentionKernel.WS_FP8);
    }

    /**
     * Whether a listed policy runs on {@code flash_attention_sm90_ws_list.cu}: the ws family, D = 128, bc = 64, and
     * no in-loop decision or one of blasst, dynsparse, recall bound=max (hybrid with bound=max included); recall
     * bounds exact and binned and bc = 32 run wg1's listed kernels.
     */
    boolean wsListed(AttentionPolicy policy, int headDim) {
        return ws() && headDim == 128 && policy.tiling().bc() == 64
                && modeAndThreshold(policy, 1)[0] <= MODE_RECALL_MAX;
    }

    /**
     * Whether a listed policy runs on the 8-bit listed kernel ({@code flash_attention_sm90_ws_fp8_list128.cu}): the ws-fp8
     * family, br = 128, bc = 64, D = 128 and no in-loop rule (topk, topp, hybrid at pre = 1, the orders).
     */
    boolean fp8Listed(AttentionPolicy policy, int headDim) {
        return family == AttentionKernel.WS_FP8 && hopper && headDim == 128 && policy.tiling().br() == BR_WS_LIST128
                && policy.tiling().bc() == 64 && modeAndThreshold(policy, 1)[0] == MODE_DENSE;
    }

    /**
     * Whether this policy's call here runs on 8-bit operands (ws-fp8: dense on {@code flash_attention_sm90_ws_fp8.cu},
     * the listed policies with no in-loop rule at br = 128 on its listed kernel); every other call runs in bf16.
     */
    public boolean eightBit(AttentionPolicy policy, int headDim) {
        if (!hopper || family != AttentionKernel.WS_FP8 || headDim != 128) {
            return false;
        }
        return unlisted(policy) ? modeAndThreshold(policy, 1)[0] == MODE_DENSE : fp8Listed(policy, headDim);
    }

    /** The entry point of a Hopper family's unlisted kernels (wg1, wg1-lean, wg1-pv, wg2) for this head dim and bc. */
    static String unlistedSm90Kernel(AttentionKernel family, int headDim, int bc) {
        String[] byDimAndBc = switch (family) {
            case WG1 -> new String[] {KERNEL_SM90_D64_BC64, KERNEL_SM90_D128_BC64, KERNEL_SM90_D64_BC32, KERNEL_SM90_D128_BC32};
            case WG1_LEAN -> new String[] {KERNEL_SM90LEAN_D64_BC64, KERNEL_SM90LEAN_D128_BC64, KERNEL_SM90LEAN_D64_BC32,
                    KERNEL_SM90LEAN_D128_BC32};
            case WG1_PV -> new String[] {KERNEL_SM90PV_D64_BC64, KERNEL_SM90PV_D128_BC64, KERNEL_SM90PV_D64_BC32,
                    KERNEL_SM90PV_D128_BC32};
            case WG2 -> new String[] {KERNEL_SM90_2WG_D64_BC64, KERNEL_SM90_2WG_D128_BC64, KERNEL_SM90_2WG_D64_BC32,
                    KERNEL_SM90_2WG_D128_BC32};
            case WS, WS_FP8 -> throw new IllegalArgumentException("ws has its own entry points at D = 128; D = 64 runs wg1-lean");
            case MMA_SYNC -> throw new IllegalArgumentException("mma-sync is not a Hopper kernel family");
        };
        return byDimAndBc[(bc == 64 ? 0 : 2) + (headDim == 64 ? 0 : 1)];
    }

    /**
     * Whether the kernels run this policy at this head dim (else {@link #forward} refuses it). Every policy,
     * bound and order is run at br = 64, bc = 32 or 64, D = 64 or 128; the listed policies with no in-loop rule or
     * blasst, dynsparse, recall bound=max also at br = 128, bc = 64, D = 128 (ws's listed kernel on compute 9.0 only,
     * checked at launch); order=local also needs the grid and the planner's orders at most
     * {@link AttentionPlanner#MAX_SORTED_TILES} kv-tiles, checked at launch.
     */
    public static boolean supports(AttentionPolicy policy, int headDim) {
        return refusal(policy, headDim) == null;
    }

    /** Why the kernels do not run this policy at this head dim, or null when they do. */
    public static String refusal(AttentionPolicy policy, int headDim) {
        Tiling t = policy.tiling();
        if (headDim != 64 && headDim != 128) {
            return "head dim " + headDim + " (the kernels have 64 and 128)";
        }
        if (t.br() == BR_WS_LIST128) {
            if (t.bc() != 64 || headDim != 128 || !AttentionPlanner.needsPlan(policy) || modeAndThreshold(policy, 1)[0] > MODE_RECALL_MAX) {
                return "tiling br=" + t.br() + ", bc=" + t.bc() + " at head dim " + headDim + " (br=128 runs only listed policies at bc=64, "
                        + "D = 128 with no in-loop rule or blasst, dynsparse, recall bound=max, on the ws kernels)";
            }
            return null;
        }
        if (t.br() != BR || (t.bc() != 32 && t.bc() != 64)) {
            return "tiling br=" + t.br() + ", bc=" + t.bc() + " (the kernels have br=64, bc=32 or 64; br=128 for listed policies on ws)";
        }
        return null;
    }

    /** Whether the policy runs on the unlisted kernels (the dense fast path and the first in-loop rules). */
    static boolean unlisted(AttentionPolicy policy) {
        if (AttentionPlanner.needsPlan(policy)) {
            return false;
        }
        return policy instanceof AttentionPolicy.Dense || policy instanceof AttentionPolicy.Blasst
                || policy instanceof AttentionPolicy.DynSparse
                || policy instanceof AttentionPolicy.Recall r && r.bound() == RecallBound.MAX;
    }

    static String kernel(int headDim, int bc) {
        return headDim == 64 ? (bc == 64 ? KERNEL_D64_BC64 : KERNEL_D64_BC32)
                : (bc == 64 ? KERNEL_D128_BC64 : KERNEL_D128_BC32);
    }

    static String listKernel(int headDim, int bc, boolean sm90) {
        if (sm90) {
            return headDim == 64 ? (bc == 64 ? KERNEL_SM90_LIST_D64_BC64 : KERNEL_SM90_LIST_D64_BC32)
                    : (bc == 64 ? KERNEL_SM90_LIST_D128_BC64 : KERNEL_SM90_LIST_D128_BC32);
        }
        return headDim == 64 ? (bc == 64 ? KERNEL_LIST_D64_BC64 : KERNEL_LIST_D64_BC32)
                : (bc == 64 ? KERNEL_LIST_D128_BC64 : KERNEL_LIST_D128_BC32);
    }

    /** flash_attention_sm90.cu's wg1 and wg1-lean kernels: Q, two K blocks and one Vᵀ block of 64 keys, + 1024 alignment pad. */
    static int sm90SmemBytes(int headDim) {
        return (BR + 3 * 64) * headDim * 2 + 1024;
    }

    static int smemBytes(int headDim, int bc) {
        return (BR + 3 * bc) * headDim * 2;
    }

    /** flash_attention_sm90.cu's PV-overlapped kernels: Q, two K and two Vᵀ blocks of 64 keys, + 1024 alignment pad. */
    static int sm90PvSmemBytes(int headDim) {
        return (BR + 4 * 64) * headDim * 2 + 1024;
    }

    /** flash_attention_sm90_2wg.cu: two Q tiles of 64 rows, two K and two Vᵀ blocks of 64 keys, + 1024 alignment pad. */
    static int sm90TwoWgSmemBytes(int headDim) {
        return (2 * BR + 4 * 64) * headDim * 2 + 1024;
    }

    /**
     * The statistics buffer the launches accumulate into (I32 x 8: four little-endian u64: tiles, skipped
     * in the loop, FLOPs saved, skipped before QKᵀ; the unlisted kernels leave the last at 0).
     */
    public DeviceBuffer newStatsBuffer() {
        return ops.allocate(DType.I32, 8);
    }

    /** The planner this instance runs pre-passes with. */
    public AttentionPlanner planner() {
        return planner;
    }

    /**
     * Runs one call and waits for it: zeroes {@code stats}, launches, reads the counters back.
     *
     * @param lse  fp32 [B, H, L] or null
     * @param keep I32 [B, H, ceil(L/64), ceil(L/bc)] or null
     */
    public Stats forward(AttentionPolicy policy, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out,
                         DeviceBuffer lse, DeviceBuffer keep, DeviceBuffer stats) {
        return forward(policy, AttentionOptions.NONE, q, k, v, out, lse, keep, stats);
    }

    /** As {@link #forward(AttentionPolicy, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer)}, with the grid (order=local) and prior of {@code options}. */
    public Stats forward(AttentionPolicy policy, AttentionOptions options, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                         DeviceBuffer out, DeviceBuffer lse, DeviceBuffer keep, DeviceBuffer stats) {
        ops.fill(stats, 0);
        launch(policy, options, q, k, v, out, lse, keep, stats);
        return readStats(stats);
    }

    /** Reads the counters (synchronizing with the stream through the copy). */
    public Stats readStats(DeviceBuffer stats) {
        return Stats.fromWords(stats.toIntArray());
    }

    private static long u64(int[] c, int i) {
        return (c[2 * i] & 0xFFFFFFFFL) | ((long) c[2 * i + 1] << 32);
    }

    /** Launches without waiting; counters add up in {@code stats} (zero it with {@code CudaKernels.fill} first). */
    public void launch(AttentionPolicy policy, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out,
                       DeviceBuffer lse, DeviceBuffer keep, DeviceBuffer stats) {
        launch(policy, AttentionOptions.NONE, q, k, v, out, lse, keep, stats);
    }

    /**
     * Launches without waiting, the pre-pass first when the policy has one (its buffers live in an arena
     * scope closed on return; the stream orders later work after them).
     */
    public void launch(AttentionPolicy policy, AttentionOptions options, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                       DeviceBuffer out, DeviceBuffer lse, DeviceBuffer keep, DeviceBuffer stats) {
        check(policy, q, k, v, out, lse, keep, stats);
        if (unlisted(policy)) {
            launchUnlisted(policy, q, k, v, out, lse, keep, stats);
            return;
        }
        try (DeviceArena.Scope scope = device.arena().scope()) {
            AttentionPlanner.DevicePlan plan = planner.plan(policy, options, q, k, false);
            launchPlanned(policy, plan, q, k, v, out, lse, keep, stats);
        }
    }

    /**
     * Runs the listed kernel over a plan made by {@link #planner()} for this policy and these q, k (tests and
     * the benchmark time the two apart). Without waiting.
     */
    public void launchPlanned(AttentionPolicy policy, AttentionPlanner.DevicePlan plan, DeviceBuffer q, DeviceBuffer k,
                              DeviceBuffer v, DeviceBuffer out, DeviceBuffer lse, DeviceBuffer keep, DeviceBuffer stats) {
        checkOut(policy, out, q.shape());
        check(policy, q, k, v, out, lse, keep, stats);
        int[] shape = q.shape();
        int bsz = shape[0], seqLen = shape[1], heads = shape[2], headDim = shape[3];
        int bc = policy.tiling().bc();
        int nq = policy.tiling().qTiles(seqLen);
        int nk = (seqLen + bc - 1) / bc;
        if (plan.list() != null && plan.list().numel() < (plan.listBhStride() == 0 ? 1L : (long) bsz * heads) * nq * nk) {
            throw new IllegalArgumentException("Cannot run attention: plan list " + plan.list() + " is smaller than its "
                    + (plan.listBhStride() == 0 ? "q-tiles x kv-tiles" : "B*H*q-tiles*kv-tiles"));
        }
        if (plan.count() != null && plan.count().numel() != (long) bsz * heads * nq) {
            throw new IllegalArgumentException("Cannot run attention: plan count " + plan.count() + " must have B*H*q-tiles elements");
        }
        int[] mode = modeAndThreshold(policy, seqLen);
        float threshold = Float.intBitsToFloat(mode[1]);
        float scale = (float) (1 / Math.sqrt(headDim));
        int grid = (int) ((long) bsz * heads * nq);
        if (!hopper) {
            Params p = new Params(q, k, v, out, lse, keep, stats, bsz, seqLen, heads, mode[0], scale, threshold);
            device.launch(listKernel(headDim, bc, false), grid, THREADS, smemBytes(headDim, bc),
                    new KernelArgs().struct(listStruct(p.struct(), plan)));
            return;
        }
        if (fp8Listed(policy, headDim)) {
            if (fp8 == null) {
                fp8 = new CudaFp8Attention(device);
            }
            try (DeviceArena.Scope scope = device.arena().scope()) {
                fp8.launchListed(fp8.quantize(q, k, v), plan, out, lse, keep, stats, scale);
            }
            return;
        }
        int vtStride = (seqLen + 7) / 8 * 8;
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer vt = transposeV(v, bsz, seqLen, heads, headDim, vtStride);
            Params90 p = new Params90(q, k, vt, out, lse, keep, stats, bsz, seqLen, heads, mode[0], scale, threshold, vtStride);
            if (wsListed(policy, headDim)) {
                // One CTA per 128 q rows: at br = 64 each consumer warpgroup walks its own 64-row q-tile's list, at
                // br = 128 both walk the q-tile's list and share its K/V blocks.
                boolean br128 = policy.tiling().br() == BR_WS_LIST128;
                TensorMapSet maps = tensorMaps(q, k, vt, bsz, seqLen, seqLen, heads, headDim, vtStride, 64);
                long ctas = (long) bsz * heads * ((seqLen + 127) / 128);
                device.launch((br128 ? KERNELS_SM90WS_LIST128 : KERNELS_SM90WS_LIST).get(mode[0]), (int) ctas, THREADS_WS,
                        br128 ? SM90WS_LIST128_SMEM_BYTES : SM90WS_LIST_SMEM_BYTES,
                        new KernelArgs().bytes(maps.q()).bytes(maps.k()).bytes(maps.vt()).struct(listStruct(p.struct(), plan)));
                return;
            }
            device.launch(listKernel(headDim, bc, true), grid, THREADS, (64 + 3 * 64) * headDim * 2 + 1024,
                    new KernelArgs().struct(listStruct(p.struct(), plan)));
        }
    }

    /** {mode, float bits of the threshold} of the kernels' decision for this policy. */
    static int[] modeAndThreshold(AttentionPolicy policy, int seqLen) {
        if (policy instanceof AttentionPolicy.Blasst b) {
            return new int[] {MODE_BLASST, Float.floatToRawIntBits((float) b.threshold(seqLen))};
        }
        if (policy instanceof AttentionPolicy.DynSparse d) {
            return new int[] {MODE_DYNSPARSE, Float.floatToRawIntBits((float) d.lambdaFor(seqLen))};
        }
        double r;
        RecallBound bound;
        if (policy instanceof AttentionPolicy.Recall rc) {
            r = rc.r();
            bound = rc.bound();
        } else if (policy instanceof AttentionPolicy.Hybrid h && h.hasLoopRule()) {
            r = h.loopRecall();
            bound = h.bound();
        } else {
            return new int[] {MODE_DENSE, 0}; // dense, topk, topp, hybrid at pre = 1: no in-loop decision
        }
        int mode = switch (bound) {
            case MAX -> MODE_RECALL_MAX;
            case EXACT -> MODE_RECALL_EXACT;
            case BINNED -> MODE_RECALL_BINNED;
        };
        // LoopRule.Recall's ratio, in the same float arithmetic.
        return new int[] {mode, Float.floatToRawIntBits((float) ((1 - r) / r) * (1 - RECALL_SLACK))};
    }

    private DeviceBuffer transposeV(DeviceBuffer v, int bsz, int seqLen, int heads, int headDim, int vtStride) {
        DeviceBuffer vt = ops.allocate(DType.BF16, bsz, heads, headDim, vtStride);
        TransposeParams tp = new TransposeParams(v, vt, bsz, seqLen, heads, headDim, vtStride);
        long tgrid = (long) bsz * heads * ((vtStride + 31) / 32);
        if (tgrid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Attention too large for one launch: " + tgrid + " transpose blocks");
        }
        device.launch(KERNEL_TRANSPOSE_V, (int) tgrid, 256, 0, new KernelArgs().struct(tp.struct()));
        return vt;
    }

    /** out is F32 of q's shape, or BF16 where the policy's kernel here writes bf16. */
    private void checkOut(AttentionPolicy policy, DeviceBuffer out, int[] shape) {
        boolean bf16 = shape.length == 4 && writesBf16(policy, shape[3]);
        if (out.dtype() != DType.F32 && !(bf16 && out.dtype() == DType.BF16) || !Arrays.equals(out.shape(), shape)) {
            throw new IllegalArgumentException("Cannot run attention: out " + out + " must be F32" + (bf16 ? " or BF16" : "")
                    + " of shape " + Arrays.toString(shape));
        }
    }

    private void check(AttentionPolicy policy, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out,
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
        int bsz = shape[0], seqLen = shape[1], heads = shape[2], headDim = shape[3];
        checkOut(policy, out, shape);
        String why = refusal(policy, headDim);
        if (why != null) {
            throw new IllegalArgumentException("Cannot run policy '" + policy.spec() + "' on the GPU: " + why);
        }
        if (policy.tiling().br() != BR && !(hopper && wsListed(policy, headDim))) {
            throw new IllegalArgumentException("Cannot run policy '" + policy.spec() + "' on " + name() + ": tiling br="
                    + policy.tiling().br() + " runs only on the ws listed kernel (compute 9.0 with TMA, D = 128, bc = 64)");
        }
        int bc = policy.tiling().bc();
        int nq = policy.tiling().qTiles(seqLen);
        int nk = (seqLen + bc - 1) / bc;
        if (lse != null && (lse.dtype() != DType.F32 || lse.numel() != (long) bsz * heads * seqLen)) {
            throw new IllegalArgumentException("Cannot run attention: lse " + lse + " must be F32 with B*H*L elements");
        }
        if (keep != null && (keep.dtype() != DType.I32 || keep.numel() != (long) bsz * heads * nq * nk)) {
            throw new IllegalArgumentException("Cannot run attention: keep " + keep + " must be I32 with B*H*q-tiles*kv-tiles elements");
        }
        if (stats.dtype() != DType.I32 || stats.numel() != 8) {
            throw new IllegalArgumentException("Cannot run attention: stats " + stats + " must be I32 x 8 (newStatsBuffer)");
        }
        long grid = (long) bsz * heads * nq;
        if (grid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Attention too large for one launch: " + grid + " CTAs");
        }
    }

    /** The unlisted kernels, as before the pre-pass existed: dense, blasst, dynsparse, recall bound=max, natural order. */
    private void launchUnlisted(AttentionPolicy policy, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out,
                                DeviceBuffer lse, DeviceBuffer keep, DeviceBuffer stats) {
        int[] shape = q.shape();
        int bsz = shape[0], seqLen = shape[1], heads = shape[2], headDim = shape[3];
        int bc = policy.tiling().bc();
        int nq = (seqLen + BR - 1) / BR;
        long grid = (long) bsz * heads * nq;
        long pairs = (long) bsz * heads * ((nq + 1) / 2);
        int[] mt = modeAndThreshold(policy, seqLen);
        int mode = mt[0];
        float threshold = Float.intBitsToFloat(mt[1]);
        float scale = (float) (1 / Math.sqrt(headDim));
        if (!hopper) {
            Params p = new Params(q, k, v, out, lse, keep, stats, bsz, seqLen, heads, mode, scale, threshold);
            device.launch(kernel(headDim, bc), (int) grid, THREADS, smemBytes(headDim, bc), new KernelArgs().struct(p.struct()));
            return;
        }
        if (eightBit(policy, headDim)) {
            if (fp8 == null) {
                fp8 = new CudaFp8Attention(device);
            }
            fp8.forward(q, k, v, out, lse, stats, scale, bc);
            if (keep != null) {
                ops.fill(keep, 1); // dense keeps every tile
            }
            return;
        }
        // Vᵀ workspace from the arena: freed when this scope closes; later work on the one stream runs after.
        int vtStride = (seqLen + 7) / 8 * 8;
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer vt = transposeV(v, bsz, seqLen, heads, headDim, vtStride);
            Params90 p = new Params90(q, k, vt, out, lse, keep, stats, bsz, seqLen, heads, mode, scale, threshold, vtStride);
            if (ws() && headDim == 128) {
                String entry = mode == MODE_DENSE
                        ? (bc == 64 ? KERNEL_SM90WS_DENSE_D128_BC64 : KERNEL_SM90WS_DENSE_D128_BC32)
                        : KERNELS_SM90WS_RULES.get((bc == 64 ? 0 : 3) + mode - 1);
                launchWarpSpecialised(entry, q, k, vt, p, bsz, seqLen, heads, headDim, vtStride);
                return;
            }
            String name = unlistedSm90Kernel(ws() ? AttentionKernel.WG1_LEAN : family, headDim, bc);
            KernelArgs args = new KernelArgs().struct(p.struct());
            switch (family) {
                // One CTA per pair of q-tiles (rows 128·i .. 128·i + 127); the odd last q-tile's partner is absent.
                case WG2 -> device.launch(name, (int) pairs, THREADS_2WG, sm90TwoWgSmemBytes(headDim), args);
                case WG1_PV -> device.launch(name, (int) grid, THREADS, sm90PvSmemBytes(headDim), args);
                default -> device.launch(name, (int) grid, THREADS, sm90SmemBytes(headDim), args);
            }
        }
    }

    /**
     * Dense attention of q [B, Lq, H, 128] over k and v [B, Lk, H, 128], any Lq and Lk (the DiT's cross-attention: the
     * video's queries, the prompt's keys), on the ws dense kernel, into {@code out} [B, Lq, H, 128], F32 or BF16. Returns
     * false with nothing launched where that kernel does not run here (not the ws family on compute 9.0, or D ≠ 128):
     * the caller runs its own kernel then.
     */
    public boolean denseCross(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out, float scale) {
        int[] qs = q.shape();
        if (!ws() || qs.length != 4 || qs[3] != 128) {
            return false;
        }
        int bsz = qs[0], lq = qs[1], heads = qs[2], lk = k.dim(1);
        if (!Arrays.equals(out.shape(), qs) || (out.dtype() != DType.F32 && out.dtype() != DType.BF16)
                || !Arrays.equals(k.shape(), new int[] {bsz, lk, heads, 128}) || !Arrays.equals(v.shape(), k.shape())) {
            throw new IllegalArgumentException("Cannot attend: q " + q + ", k " + k + ", v " + v + ", out " + out
                    + " (expected [B, Lq, H, 128], k and v [B, Lk, H, 128], out like q in F32 or BF16)");
        }
        if (lq == 0 || lk == 0) {
            return false;
        }
        int vtStride = (lk + 7) / 8 * 8;
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer vt = transposeV(v, bsz, lk, heads, 128, vtStride);
            Params90 p = new Params90(q, k, vt, out, null, null, newStatsBuffer(), bsz, lq, heads, MODE_DENSE, scale, 0f, vtStride, lk);
            launchWarpSpecialised(KERNEL_SM90WS_DENSE_D128_BC64, q, k, vt, p, bsz, lq, heads, 128, vtStride);
        }
        return true;
    }

    /** An unlisted policy at D = 128 on the warp-specialised kernel: one CTA per 128 q rows, Q/K/Vᵀ loaded by TMA. */
    private void launchWarpSpecialised(String entry, DeviceBuffer q, DeviceBuffer k, DeviceBuffer vt, Params90 p, int bsz, int seqLen,
                                       int heads, int headDim, int vtStride) {
        TensorMapSet maps = tensorMaps(q, k, vt, bsz, seqLen, p.kvLen(), heads, headDim, vtStride, 128);
        long ctas = (long) bsz * heads * ((seqLen + 127) / 128);
        device.launch(entry, (int) ctas, THREADS_WS, SM90WS_SMEM_BYTES,
                new KernelArgs().bytes(maps.q()).bytes(maps.k()).bytes(maps.vt()).struct(p.struct()));
    }

    /** The TMA descriptors of the ws kernels. */
    private record TensorMapSet(byte[] q, byte[] k, byte[] vt) {}

    /**
     * Q and K as [D, H, L, B] (boxes of 64 columns × 64 rows, K's × {@code keyRows}), Vᵀ as [Lp, D, B·H] (boxes of
     * 64 keys × 128 d).
     */
    private static TensorMapSet tensorMaps(DeviceBuffer q, DeviceBuffer k, DeviceBuffer vt, int bsz, int seqLen, int kvLen, int heads,
                                           int headDim, int vtStride, int keyRows) {
        long[] qDims = {headDim, heads, seqLen, bsz};
        long[] qStrides = {(long) headDim * 2, (long) heads * headDim * 2, (long) seqLen * heads * headDim * 2};
        long[] kDims = {headDim, heads, kvLen, bsz};
        long[] kStrides = {(long) headDim * 2, (long) heads * headDim * 2, (long) kvLen * heads * headDim * 2};
        byte[] mq = TensorMaps.bf16(q, qDims, qStrides, new int[] {64, 1, 64, 1});
        byte[] mk = TensorMaps.bf16(k, kDims, kStrides, new int[] {64, 1, keyRows, 1});
        byte[] mv = TensorMaps.bf16(vt, new long[] {vtStride, headDim, (long) bsz * heads},
                new long[] {(long) vtStride * 2, (long) headDim * vtStride * 2}, new int[] {64, 128, 1});
        return new TensorMapSet(mq, mk, mv);
    }
}
