package io.sparserender.engine.gpu;

import io.sparserender.engine.attention.Tiling;
import io.sparserender.engine.tensor.DType;
import java.util.Arrays;

/**
 * Exact recall of a sparse attention call on sampled heads, on the device ({@code attention_recall.cu}):
 * for each query row of a sampled head, the share of its softmax mass on the kv-tiles the call kept,
 * from the call's keep flags and a second pass over QKᵀ (no PV). Java twin:
 * {@link io.sparserender.engine.attention.ExactRecall#rowRecalls}.
 */
public final class CudaRecall {
    static final String KERNEL = "attention_recall";
    private static final int ROWS = 64;
    private static final int THREADS = 256;

    /** Mean, 5th percentile (nearest rank) and minimum of the row recalls. */
    public record Summary(double mean, double p05, double min, int rows) {
        public static Summary of(float[] recall) {
            if (recall.length == 0) {
                throw new IllegalArgumentException("No rows to summarise");
            }
            double sum = 0;
            float min = Float.POSITIVE_INFINITY;
            for (float r : recall) {
                sum += r;
                min = Math.min(min, r);
            }
            int rank = (int) Math.ceil(0.05 * recall.length);
            return new Summary(sum / recall.length, select(recall.clone(), Math.max(0, rank - 1)), min, recall.length);
        }

        /**
         * The k-th smallest value (0-based) by selection, in time linear in the length on average: a DiT call samples
         * ~10⁵ rows and sorting them took ~10 ms of the render thread per call. Reorders {@code v}.
         */
        static float select(float[] v, int k) {
            int lo = 0, hi = v.length - 1;
            while (lo < hi) {
                float pivot = v[(lo + hi) >>> 1];
                int i = lo, j = hi;
                while (i <= j) { // Hoare partition: equal values go to both sides, so runs of one value split evenly
                    while (v[i] < pivot) {
                        i++;
                    }
                    while (v[j] > pivot) {
                        j--;
                    }
                    if (i <= j) {
                        float t = v[i];
                        v[i++] = v[j];
                        v[j--] = t;
                    }
                }
                if (k <= j) {
                    hi = j;
                } else if (k >= i) {
                    lo = i;
                } else {
                    return v[k];
                }
            }
            return v[k];
        }
    }

    private final CudaKernels ops;
    private final CudaDevice device;

    public CudaRecall(CudaKernels ops) {
        this.ops = ops;
        this.device = ops.device();
    }

    /**
     * Row recalls [B, sampled heads, L] as floats (a fresh buffer, NaN until written) for keep flags of the call's
     * tiling (q-tiles of br = 64 or 128 rows, kv-tiles of bc = 32 or 64 keys).
     */
    public float[] rowRecalls(DeviceBuffer q, DeviceBuffer k, DeviceBuffer keep, Tiling tiling, int... sampledHeads) {
        return rowRecalls(q, k, keep, tiling, 1, sampledHeads);
    }

    /**
     * The recalls of the rows of every {@code qTileStride}-th 64-row q-tile (q-tiles 0, stride, 2·stride, ...) of the
     * sampled heads, [B, sampled heads, those rows] in row order: a sample whose cost is 1/stride of every row's (the
     * second QKᵀ pass runs on the CUDA cores, so every row of two heads of a 5B clip's self-attention costs about as
     * much as the attention call itself).
     */
    public float[] rowRecalls(DeviceBuffer q, DeviceBuffer k, DeviceBuffer keep, Tiling tiling, int qTileStride,
                              int... sampledHeads) {
        if (qTileStride < 1) {
            throw new IllegalArgumentException("Recall: q-tile stride must be at least 1, got " + qTileStride);
        }
        try (DeviceArena.Scope scope = device.arena().scope()) {
            int[] shape = q.shape();
            DeviceBuffer recall = ops.allocate(DType.F32, shape[0], sampledHeads.length, shape[1]);
            ops.fill(recall, Float.floatToRawIntBits(Float.NaN));
            rowRecalls(q, k, keep, tiling, recall, qTileStride, sampledHeads);
            float[] all = recall.toFloatArray();
            if (qTileStride == 1) {
                return all;
            }
            int seqLen = shape[1];
            float[] rows = new float[all.length];
            int n = 0;
            for (int slice = 0; slice < all.length / seqLen; slice++) {
                for (int r0 = 0; r0 < seqLen; r0 += ROWS * qTileStride) {
                    for (int r = r0; r < Math.min(seqLen, r0 + ROWS); r++) {
                        rows[n++] = all[slice * seqLen + r];
                    }
                }
            }
            return Arrays.copyOf(rows, n);
        }
    }

    /**
     * Writes the row recalls into {@code recall}, F32 [B, sampled heads, L].
     *
     * @param q, k bf16 [B, L, H, D]
     * @param keep I32 keep flags [B, H, ceil(L/br), ceil(L/bc)] of the call (1 = kept)
     * @param tiling the call's q-tile height br (64 or 128) and kv-tile width bc (32 or 64); the order is not read
     * @param sampledHeads head indices, each in [0, H)
     */
    public void rowRecalls(DeviceBuffer q, DeviceBuffer k, DeviceBuffer keep, Tiling tiling, DeviceBuffer recall, int... sampledHeads) {
        rowRecalls(q, k, keep, tiling, recall, 1, sampledHeads);
    }

    /** As above for the rows of every {@code qTileStride}-th 64-row q-tile; the other rows of {@code recall} are left as they are. */
    public void rowRecalls(DeviceBuffer q, DeviceBuffer k, DeviceBuffer keep, Tiling tiling, DeviceBuffer recall, int qTileStride,
                           int... sampledHeads) {
        int br = tiling.br(), bc = tiling.bc();
        int[] shape = q.shape();
        if (shape.length != 4 || !Arrays.equals(shape, k.shape()) || q.dtype() != DType.BF16 || k.dtype() != DType.BF16) {
            throw new IllegalArgumentException("Recall needs bf16 q and k of one shape [B, L, H, D], got q " + q + ", k " + k);
        }
        int bsz = shape[0], seqLen = shape[1], heads = shape[2], headDim = shape[3];
        if (bc != 32 && bc != 64) {
            throw new IllegalArgumentException("Recall: bc must be 32 or 64, got " + bc);
        }
        if (br != ROWS && br != 2 * ROWS) {
            throw new IllegalArgumentException("Recall: br must be 64 or 128, got " + br);
        }
        int nq = (seqLen + ROWS - 1) / ROWS;
        int nk = (seqLen + bc - 1) / bc;
        int[] want = {bsz, heads, (seqLen + br - 1) / br, nk};
        if (!Arrays.equals(keep.shape(), want)) {
            throw new IllegalArgumentException("Recall: keep flags must be " + Arrays.toString(want) + " for br=" + br + ", bc=" + bc
                    + ", got " + Arrays.toString(keep.shape()));
        }
        if (sampledHeads.length == 0) {
            throw new IllegalArgumentException("Recall: no sampled heads");
        }
        for (int h : sampledHeads) {
            if (h < 0 || h >= heads) {
                throw new IllegalArgumentException("Recall: sampled head " + h + " is outside [0, " + heads + ")");
            }
        }
        int nh = sampledHeads.length;
        int[] out = {bsz, nh, seqLen};
        if (recall.dtype() != DType.F32 || !Arrays.equals(recall.shape(), out)) {
            throw new IllegalArgumentException("Recall: output must be F32 " + Arrays.toString(out) + ", got " + recall);
        }
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer sampled = ops.allocate(DType.I32, nh);
            sampled.copyFrom(sampledHeads);
            KernelArgs.Struct p = new KernelArgs.Struct().ptr(q).ptr(k).ptr(keep).ptr(sampled).ptr(recall)
                    .i32(bsz).i32(seqLen).i32(heads).i32(headDim).i32(bc).i32(nh).f32((float) (1 / Math.sqrt(headDim))).i32(br)
                    .i32(qTileStride);
            int sampledTiles = (nq + qTileStride - 1) / qTileStride;
            device.launch(KERNEL, Math.multiplyExact(sampledTiles, bsz * nh), THREADS, (ROWS + 32) * headDim * 2, new KernelArgs().struct(p));
            device.synchronize(); // the sampled-head list is freed when this scope closes
        }
    }
}
