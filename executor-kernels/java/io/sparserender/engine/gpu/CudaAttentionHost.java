package io.sparserender.engine.gpu;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.AttentionStats;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.TileMask;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import java.util.Objects;

/**
 * One {@link CudaAttention} call over host tensors, giving what {@link io.sparserender.engine.attention.TiledAttention}
 * gives (output, statistics, kept tiles) so callers such as {@code sparse-render attention --backend cuda}
 * treat both backends alike. q, k and v are rounded to bf16 on upload (the kernels' input type); the
 * output comes back as float32.
 */
public final class CudaAttentionHost {
    /** The output [B, L, H, D], the call's statistics (no exact part) and its kept tiles. */
    public record Result(Tensor o, AttentionStats stats, TileMask mask) {
        public Result {
            Objects.requireNonNull(o, "o is null");
            Objects.requireNonNull(stats, "stats is null");
            Objects.requireNonNull(mask, "mask is null");
        }
    }

    private final CudaDevice device;
    private final CudaKernels ops;
    private final CudaAttention attention;

    public CudaAttentionHost(CudaDevice device) {
        this.device = device;
        this.ops = new CudaKernels(device);
        this.attention = new CudaAttention(device);
    }

    /** Which kernel runs. */
    public String kernelName() {
        return attention.name();
    }

    /**
     * Device memory one call over {@code in} needs at most, for an arena: bf16 q, k, v and Vᵀ, the fp32
     * output, and for kv-tiles of {@code minBc} keys the keep flags and the planner's buffers.
     */
    public static long arenaBytes(QkvInput in, int minBc) {
        long n = in.q().numel();
        long bh = (long) in.batch() * in.heads();
        long nq = (in.seqLen() + CudaAttention.BR - 1) / CudaAttention.BR;
        long nk = (in.seqLen() + minBc - 1) / minBc;
        long tiles = bh * nq * nk;
        long pooled = bh * (nq + nk) * in.headDim() * 4;
        return n * (4 * 2 + 4) + tiles * 4 * 4 + pooled + (64L << 20);
    }

    /** Runs one call and waits for it. */
    public Result run(QkvInput in, AttentionPolicy policy, AttentionOptions options) {
        int[] shape = in.q().shape();
        int batch = shape[0];
        int heads = shape[2];
        int nq = policy.tiling().qTiles(shape[1]);
        int nk = policy.tiling().kvTiles(shape[1]);
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer q = ops.uploadBf16(in.q().data(), shape);
            DeviceBuffer k = ops.uploadBf16(in.k().data(), shape);
            DeviceBuffer v = ops.uploadBf16(in.v().data(), shape);
            DeviceBuffer out = ops.allocate(DType.F32, shape);
            DeviceBuffer keep = ops.allocate(DType.I32, batch, heads, nq, nk);
            CudaAttention.Stats st = attention.forward(policy, options, q, k, v, out, null, keep, attention.newStatsBuffer());
            TileMask mask = TileMask.fromKeepFlags(batch, heads, nq, nk, keep.toIntArray());
            return new Result(new Tensor(out.toFloatArray(), shape),
                    st.toAttentionStats(policy, batch, shape[1], heads, shape[3]), mask);
        }
    }
}
