package io.sparserender.engine.gpu;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.TileMassTable;
import io.sparserender.engine.attention.Tiling;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.attention.VisitOrder;
import io.sparserender.engine.tensor.DType;

/**
 * The attention pre-pass on the device ({@code attention_plan.cu}): per q-tile the list of kv-tiles the
 * listed attention kernels visit, in order. Java twin: {@link io.sparserender.engine.attention.TilePlans}
 * (the reference's TileEstimates, TilePlanner and LocalOrder); the lists are the twin's bit for bit (see
 * the .cu file for why). Buffers come from the device arena: open a scope around the plan and the launch.
 */
public final class AttentionPlanner {
    static final String KERNEL_POOL = "attn_pool_tiles";
    static final String KERNEL_SCORES = "attn_tile_scores";
    static final String KERNEL_PLAN = "attn_plan";
    static final String KERNEL_LOCAL = "attn_local_order";
    static final String KERNEL_GLOBAL_QUERY = "attn_global_query";
    static final String KERNEL_GLOBAL_SCORES = "attn_global_scores";
    static final String KERNEL_GLOBAL_TOP = "attn_global_top";
    /** Largest kv-tile count the planner sorts (a power of two: the bitonic sort's shared memory). */
    public static final int MAX_SORTED_TILES = 8192;
    /** Shared memory of attn_plan / attn_local_order at MAX_SORTED_TILES: 8-byte keys, 4-byte indices, scratch. */
    static final int PLAN_SMEM_BYTES = MAX_SORTED_TILES * 12 + 256;
    static final int PLAN_THREADS = 256;

    static final int KIND_ORDER_ONLY = 0;
    static final int KIND_TOPK = 1;
    static final int KIND_TOPP = 2;
    static final int KIND_HYBRID = 3;

    /**
     * What the listed kernel walks. {@code list}: I32, entry {@code bh·listBhStride + qt·nk + i}; null = every
     * q-tile visits 0 .. nk−1. {@code count}: I32 [B·H, q-tiles], the list lengths; null = nk each.
     * {@code estimates}: F32 [B, H, q-tiles, kv-tiles] as the planner used them, when asked for, else null.
     * {@code globals}: I32 [B·H, n] hybrid's global tiles per head (never pre-skipped), or null when none.
     */
    public record DevicePlan(DeviceBuffer list, DeviceBuffer count, long listBhStride, DeviceBuffer estimates,
                             DeviceBuffer globals) {
        static final DevicePlan NATURAL = new DevicePlan(null, null, 0, null, null);
    }

    record PoolParams(DeviceBuffer q, DeviceBuffer k, DeviceBuffer qbar, DeviceBuffer kbar, int batch, int seqLen, int heads,
                      int headDim, int br, int bc, float scale) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(q).ptr(k).ptr(qbar).ptr(kbar).i32(batch).i32(seqLen).i32(heads).i32(headDim)
                    .i32(br).i32(bc).f32(scale);
        }
    }

    record ScoreParams(DeviceBuffer qbar, DeviceBuffer kbar, DeviceBuffer w, int bhCount, int nq, int nk, int headDim,
                       float logBc, float logLast) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(qbar).ptr(kbar).ptr(w).i32(bhCount).i32(nq).i32(nk).i32(headDim)
                    .f32(logBc).f32(logLast);
        }
    }

    record PlanParams(DeviceBuffer w, DeviceBuffer local, DeviceBuffer estOut, DeviceBuffer list, DeviceBuffer count,
                      int bhCount, int nq, int nk, int npow2, int kind, int order, int isPrior, int topk, float topp,
                      float budget, DeviceBuffer global, int nGlobal) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(w).ptr(local).ptr(estOut).ptr(list).ptr(count).i32(bhCount).i32(nq).i32(nk)
                    .i32(npow2).i32(kind).i32(order).i32(isPrior).i32(topk).f32(topp).f32(budget).ptr(global).i32(nGlobal);
        }
    }

    /** ap::GlobalParams: hybrid's global tiles (TileEstimates.globalTiles). */
    record GlobalParams(DeviceBuffer qbar, DeviceBuffer k, DeviceBuffer gbar, DeviceBuffer best, DeviceBuffer global, int batch,
                        int seqLen, int heads, int headDim, int bc, int nq, int nk, int nGlobal) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(qbar).ptr(k).ptr(gbar).ptr(best).ptr(global).i32(batch).i32(seqLen).i32(heads)
                    .i32(headDim).i32(bc).i32(nq).i32(nk).i32(nGlobal);
        }
    }

    record LocalParams(DeviceBuffer out, int seqLen, int frames, int rows, int cols, int br, int bc, int nq, int nk, int npow2) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(out).i32(seqLen).i32(frames).i32(rows).i32(cols).i32(br).i32(bc).i32(nq).i32(nk)
                    .i32(npow2);
        }
    }

    private final CudaDevice device;
    private final CudaKernels ops;

    public AttentionPlanner(CudaDevice device) {
        this.device = device;
        this.ops = new CudaKernels(device);
    }

    /** Whether the policy needs any pre-pass (a list other than natural order). */
    public static boolean needsPlan(AttentionPolicy policy) {
        return policy.skipsBeforeQk() || policy.tiling().order() != VisitOrder.NATURAL;
    }

    /** As the reference's TilePlanner.needsEstimate: a pre-pass skip or order=estimate. */
    static boolean needsEstimate(AttentionPolicy policy) {
        return policy.skipsBeforeQk() || policy.tiling().order() == VisitOrder.ESTIMATE;
    }

    /** Sort size: the next power of two ≥ n. */
    static int npow2(int n) {
        int p = 1;
        while (p < n) {
            p <<= 1;
        }
        return p;
    }

    /**
     * Plans one call over bf16 q, k [B, L, H, D] (q-tiles of 64 rows). The options' grid is needed by
     * order=local; a prior replaces the mean-pooled estimate as in the reference.
     *
     * @param keepEstimates also return the estimates (tests)
     */
    public DevicePlan plan(AttentionPolicy policy, AttentionOptions options, DeviceBuffer q, DeviceBuffer k, boolean keepEstimates) {
        int[] shape = q.shape();
        int bsz = shape[0];
        int seqLen = shape[1];
        int heads = shape[2];
        int headDim = shape[3];
        Tiling t = policy.tiling();
        int nq = t.qTiles(seqLen);
        int nk = t.kvTiles(seqLen);
        int bh = bsz * heads;
        check(policy, options, bsz, seqLen, heads);
        if (!needsPlan(policy) && !keepEstimates) {
            return DevicePlan.NATURAL;
        }
        int np2 = npow2(nk);
        DeviceBuffer local = null;
        if (t.order() == VisitOrder.LOCAL) {
            VideoGrid g = options.grid();
            local = ops.allocate(DType.I32, nq, nk);
            LocalParams lp = new LocalParams(local, seqLen, g.frames(), g.rows(), g.cols(), t.br(), t.bc(), nq, nk, np2);
            device.launch(KERNEL_LOCAL, nq, PLAN_THREADS, np2 * 12 + 256, new KernelArgs().struct(lp.struct()));
        }
        if (!needsEstimate(policy) && !keepEstimates) {
            return new DevicePlan(local, null, 0, null, null); // order=local alone: one list for every (batch, head)
        }
        DeviceBuffer w = ops.allocate(DType.F32, bsz, heads, nq, nk);
        boolean prior = options.prior() != null;
        DeviceBuffer globals = null;
        int nGlobal = 0;
        if (prior) {
            double[] mass = options.prior().mass();
            float[] f = new float[mass.length];
            for (int i = 0; i < mass.length; i++) {
                f[i] = (float) mass[i];
            }
            w.copyFrom(f);
        } else {
            DeviceBuffer qbar = ops.allocate(DType.F32, bh, nq, headDim);
            DeviceBuffer kbar = ops.allocate(DType.F32, bh, nk, headDim);
            float scale = (float) (1 / Math.sqrt(headDim));
            PoolParams pp = new PoolParams(q, k, qbar, kbar, bsz, seqLen, heads, headDim, t.br(), t.bc(), scale);
            device.launch(KERNEL_POOL, checkedGrid((long) bh * (nq + nk)), headDim, 0, new KernelArgs().struct(pp.struct()));
            int lastCols = seqLen - (nk - 1) * t.bc();
            ScoreParams sp = new ScoreParams(qbar, kbar, w, bh, nq, nk, headDim, (float) Math.log(t.bc()), (float) Math.log(lastCols));
            long groups = (long) bh * ((nq + 63) / 64) * ((nk + 63) / 64);
            device.launch(KERNEL_SCORES, checkedGrid(groups), 256, 0, new KernelArgs().struct(sp.struct()));
            if (policy instanceof AttentionPolicy.Hybrid h && h.global() > 0) {
                nGlobal = Math.min(h.global(), nk);
                globals = ops.allocate(DType.I32, bh, nGlobal);
                GlobalParams gp = new GlobalParams(qbar, k, ops.allocate(DType.F32, bh, headDim), ops.allocate(DType.I32, bh, nk),
                        globals, bsz, seqLen, heads, headDim, t.bc(), nq, nk, nGlobal);
                device.launch(KERNEL_GLOBAL_QUERY, bh, headDim, 0, new KernelArgs().struct(gp.struct()));
                device.launch(KERNEL_GLOBAL_SCORES, checkedGrid((long) bh * nk), 128, 0, new KernelArgs().struct(gp.struct()));
                device.launch(KERNEL_GLOBAL_TOP, bh, PLAN_THREADS, 0, new KernelArgs().struct(gp.struct()));
            }
        }
        DeviceBuffer est = keepEstimates ? ops.allocate(DType.F32, bsz, heads, nq, nk) : null;
        DeviceBuffer list = ops.allocate(DType.I32, bsz, heads, nq, nk);
        DeviceBuffer count = ops.allocate(DType.I32, bsz, heads, nq);
        int kind = KIND_ORDER_ONLY;
        int topk = 0;
        float topp = 0f;
        float budget = 0f;
        if (policy instanceof AttentionPolicy.TopK tk) {
            kind = KIND_TOPK;
            topk = tk.k();
        } else if (policy instanceof AttentionPolicy.TopP tp) {
            kind = KIND_TOPP;
            topp = (float) tp.p();
        } else if (policy instanceof AttentionPolicy.Hybrid h) {
            kind = KIND_HYBRID;
            budget = (float) (h.pre() * (1 - h.r()));
        }
        int order = switch (t.order()) {
            case NATURAL -> 0;
            case LOCAL -> 1;
            case ESTIMATE -> 2;
        };
        PlanParams pl = new PlanParams(w, local, est, list, count, bh, nq, nk, np2, kind, order, prior ? 1 : 0, topk, topp, budget,
                globals, nGlobal);
        device.launch(KERNEL_PLAN, checkedGrid((long) bh * nq), PLAN_THREADS, np2 * 12 + 256, new KernelArgs().struct(pl.struct()));
        return new DevicePlan(list, count, (long) nq * nk, est, globals);
    }

    /** The local-first order of every q-tile, [q-tiles, kv-tiles] (the kernel attn_local_order on its own, for tests). */
    public DeviceBuffer localOrder(VideoGrid grid, int seqLen, Tiling tiling) {
        int nq = tiling.qTiles(seqLen);
        int nk = tiling.kvTiles(seqLen);
        if (nk > MAX_SORTED_TILES) {
            throw new IllegalArgumentException("Cannot order " + nk + " kv-tiles on the GPU (at most " + MAX_SORTED_TILES + ")");
        }
        DeviceBuffer local = ops.allocate(DType.I32, nq, nk);
        LocalParams lp = new LocalParams(local, seqLen, grid.frames(), grid.rows(), grid.cols(), tiling.br(), tiling.bc(), nq, nk,
                npow2(nk));
        device.launch(KERNEL_LOCAL, nq, PLAN_THREADS, npow2(nk) * 12 + 256, new KernelArgs().struct(lp.struct()));
        return local;
    }

    /** The refusals of a plan, as IllegalArgumentExceptions naming the policy (no device work). */
    static void check(AttentionPolicy policy, AttentionOptions options, int bsz, int seqLen, int heads) {
        Tiling t = policy.tiling();
        int nk = t.kvTiles(seqLen);
        if (needsPlan(policy) && nk > MAX_SORTED_TILES) {
            throw new IllegalArgumentException("Cannot run policy '" + policy.spec() + "' on the GPU: " + nk
                    + " kv-tiles, the planner sorts at most " + MAX_SORTED_TILES + " (use a larger bc or order=natural)");
        }
        if (t.order() == VisitOrder.LOCAL) {
            if (options.grid() == null) {
                throw new IllegalArgumentException("Cannot run policy '" + policy.spec()
                        + "': order=local needs the token grid (frames, rows, columns)");
            }
            if (options.grid().tokens() != seqLen) {
                throw new IllegalArgumentException("Cannot run policy '" + policy.spec() + "': grid " + options.grid()
                        + " has " + options.grid().tokens() + " tokens, the input has L = " + seqLen);
            }
        }
        TileMassTable prior = options.prior();
        if (prior != null && (prior.batch() != bsz || prior.heads() != heads || prior.seqLen() != seqLen
                || prior.br() != t.br() || prior.bc() != t.bc())) {
            throw new IllegalArgumentException("Cannot run policy '" + policy.spec() + "': the prior tile masses are for "
                    + prior.batch() + "x" + prior.seqLen() + "x" + prior.heads() + " with br=" + prior.br() + ", bc="
                    + prior.bc() + ", not this call's " + bsz + "x" + seqLen + "x" + heads);
        }
    }

    private static int checkedGrid(long blocks) {
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Attention plan too large for one launch: " + blocks + " blocks");
        }
        return (int) blocks;
    }
}
