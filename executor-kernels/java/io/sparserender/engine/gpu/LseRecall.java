package io.sparserender.engine.gpu;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.tensor.DType;
import java.util.ArrayList;
import java.util.List;

/**
 * Recall of a sparse attention call on sampled heads, from log-sum-exps. A row's recall, the share of its dense softmax
 * mass on the tiles the call kept, is {@code exp(lse_sparse − lse_dense)}: the call's own log-sum-exp is the log of the
 * mass it kept (Σ over kept keys of e^(s·scale)), and a dense call of the same arithmetic over the sampled heads gives
 * the whole mass. Both come from the scores the call used — bf16 products summed in fp32, or the 8-bit family's
 * quantized ones ({@link CudaAttention#eightBit}) — so this is the recall of the call as it ran, and the second pass
 * runs on the tensor cores over the sampled heads only (2 of H in the DiT), where {@link CudaRecall}'s runs on the CUDA
 * cores (a 5B call's two heads on every row cost as much as the call). References: {@code ExactRecall.rowRecalls} for
 * bf16 calls, the log-sum-exps of {@code Fp8Attention}'s forward and listed forward for 8-bit ones ({@code LseRecallGpuTest}).
 */
public final class LseRecall {
    private static final AttentionPolicy DENSE = PolicySpec.parse("dense");

    private final CudaOps ops;
    private CudaAttention bf16;
    private CudaAttention eightBit;

    public LseRecall(CudaOps ops) {
        this.ops = ops;
    }

    /** The sampled heads' log-sum-exps of the call and of the dense pass, each [B, sampled heads, L] in row order. */
    public record LogSumExps(float[] sparse, float[] dense) {
        /** The row recalls ({@link LseRecall#fromLse}). */
        public float[] recalls() {
            return fromLse(sparse, dense);
        }
    }

    /**
     * Row recalls [B, sampled heads, L] in row order (waits for the device): {@link #logSumExps} and {@link #fromLse}.
     */
    public float[] rowRecalls(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer lse, boolean eightBit, int... sampledHeads) {
        return logSumExps(q, k, v, lse, eightBit, sampledHeads).recalls();
    }

    /**
     * The call's log-sum-exps of the sampled heads and the dense pass's (waits for the device; the recalls can then be
     * formed on any thread).
     *
     * @param q, k, v   the call's bf16 [B, L, H, D] inputs
     * @param lse       the call's log-sum-exp, F32 [B, H, L]
     * @param eightBit  whether the call ran on 8-bit operands ({@link CudaAttention#eightBit}): the dense pass then does too
     * @param sampledHeads head indices, each in [0, H), no repeats needed
     */
    public LogSumExps logSumExps(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer lse, boolean eightBit, int... sampledHeads) {
        int[] shape = q.shape();
        if (shape.length != 4) {
            throw new IllegalArgumentException("Recall: q must be [B, L, H, D], got " + q);
        }
        int bsz = shape[0], seqLen = shape[1], heads = shape[2];
        if (lse.dtype() != DType.F32 || lse.numel() != (long) bsz * heads * seqLen) {
            throw new IllegalArgumentException("Recall: lse must be F32 [B, H, L] = [" + bsz + ", " + heads + ", " + seqLen + "], got " + lse);
        }
        if (sampledHeads.length == 0) {
            throw new IllegalArgumentException("Recall: no sampled heads");
        }
        for (int h : sampledHeads) {
            if (h < 0 || h >= heads) {
                throw new IllegalArgumentException("Recall: sampled head " + h + " is outside [0, " + heads + ")");
            }
        }
        CudaDevice device = ops.device();
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer qs = heads(q, 2, sampledHeads);
            DeviceBuffer ks = heads(k, 2, sampledHeads);
            DeviceBuffer vs = heads(v, 2, sampledHeads);
            DeviceBuffer sparse = heads(lse.view(0, bsz, heads, seqLen), 1, sampledHeads);
            CudaAttention dense = eightBit ? eightBitKernel(device) : bf16Kernel(device);
            DeviceBuffer lseDense = device.arena().allocate(DType.F32, bsz, sampledHeads.length, seqLen);
            DeviceBuffer out = device.arena().allocate(dense.writesBf16(DENSE, shape[3]) ? DType.BF16 : DType.F32, qs.shape());
            DeviceBuffer stats = dense.newStatsBuffer();
            ops.kernels().fill(stats, 0);
            dense.launch(DENSE, AttentionOptions.NONE, qs, ks, vs, out, lseDense, null, stats);
            return new LogSumExps(sparse.toFloatArray(), lseDense.toFloatArray());
        }
    }

    /**
     * Recall per row from the two log-sum-exps: {@code exp(sparse − dense)}, at most 1 (the kept mass is part of the
     * whole; a row that kept every key can land a rounding above it), 0 where the call kept nothing (−∞), NaN where
     * either is NaN or the dense one is not finite (non-finite inputs: the clip's own NaN check names where they
     * started, so a statistic does not throw first).
     */
    public static float[] fromLse(float[] sparse, float[] dense) {
        if (sparse.length != dense.length) {
            throw new IllegalArgumentException("Recall: " + sparse.length + " sparse log-sum-exps against " + dense.length + " dense ones");
        }
        float[] r = new float[sparse.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = Float.isNaN(sparse[i]) || !Float.isFinite(dense[i]) ? Float.NaN
                    : (float) Math.min(1.0, Math.exp((double) sparse[i] - dense[i]));
        }
        return r;
    }

    /** The sampled heads' slices of t along {@code dim}, in the order given, as one contiguous buffer. */
    private DeviceBuffer heads(DeviceBuffer t, int dim, int[] sampled) {
        List<DeviceBuffer> parts = new ArrayList<>(sampled.length);
        for (int h : sampled) {
            parts.add(ops.slice(t, dim, h, h + 1));
        }
        return parts.size() == 1 ? parts.get(0) : ops.concat(dim, parts);
    }

    private CudaAttention bf16Kernel(CudaDevice device) {
        if (bf16 == null) {
            bf16 = new CudaAttention(device, AttentionKernel.WS);
        }
        return bf16;
    }

    private CudaAttention eightBitKernel(CudaDevice device) {
        if (eightBit == null) {
            eightBit = new CudaAttention(device, AttentionKernel.WS_FP8);
        }
        return eightBit;
    }
}
