package io.sparserender.engine.gpu;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.attention.VideoLikeInputs;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.HalfFloats;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Times {@link CudaAttention} on one shape for several policies: CUDA events around each launch, median
 * of {@code iters} after {@code warmups}. Inputs are video-like ({@link VideoLikeInputs#videoLike} on
 * the shape's token grid, default knobs): {@code genHeads} heads are generated on the host and repeated
 * over the H heads (the generator's heads are i.i.d., so sparsity statistics per head are the same;
 * generating all 40 heads of 75,600 tokens on one host thread takes minutes). TFLOP/s is dense-equivalent,
 * 4·B·H·L²·D / t; the real FLOPs are the dense ones minus those the device counted as skipped (PV of tiles
 * skipped in the loop, QKᵀ and PV of tiles skipped before QKᵀ). A policy with a pre-pass is timed whole
 * (pre-pass + attention kernel: what a caller pays); the pre-pass alone is timed too ({@code plan_ms}).
 * order=local uses the shape's token grid. Each kernel family asked for ({@link AttentionKernel}) gives its
 * own rows ({@code kernel}: the family that ran the policy; a listed policy runs wg1's listed kernels
 * under wg2 too, so it is timed once); families that fall back to the same kernel on this card run once.
 * Each policy's recall is measured once after its timing ({@link CudaRecall}: keep flags + a second QKᵀ
 * pass on the generated heads): mean, 5th percentile, minimum over rows. Rows of the 8-bit kernel (ws-fp8's dense) also
 * give their output's relative L2 distance from the bf16 ws kernel's on the same inputs ({@code rel_l2_vs_ws_bf16}; NaN
 * elsewhere).
 */
public final class AttentionBenchmark {
    /** One measurement. */
    public record Result(String impl, String kernel, String policy, int batch, int seqLen, int heads, int headDim, double medianMs, double tflopsDense,
                         double realTflop, double tflopsReal, double tileSparsity, double skippedBeforeQk, double planMs, double[] allMs,
                         CudaRecall.Summary recall, double peak, double relL2VsBf16) {
        public String json() {
            return String.format(Locale.ROOT,
                    "{\"impl\":\"%s\",\"kernel\":\"%s\",\"policy\":\"%s\",\"b\":%d,\"l\":%d,\"h\":%d,\"d\":%d,\"median_ms\":%.4f,"
                            + "\"tflops_dense_equiv\":%.1f,\"real_tflop\":%.4f,\"tflops_real\":%.1f,\"tile_sparsity\":%.4f,"
                            + "\"skipped_before_qk\":%.4f,\"plan_ms\":%.4f,\"recall_mean\":%.4f,\"recall_p05\":%.4f,"
                            + "\"recall_min\":%.4f,\"recall_rows\":%d,\"peak\":%s,\"rel_l2_vs_ws_bf16\":%.5f,\"all_ms\":%s}",
                    impl, kernel, policy, batch, seqLen, heads, headDim, medianMs, tflopsDense, realTflop, tflopsReal, tileSparsity,
                    skippedBeforeQk, planMs, recall.mean(), recall.p05(), recall.min(), recall.rows(), peak, relL2VsBf16,
                    Arrays.toString(allMs));
        }
    }

    private final CudaDevice device;
    private final CudaKernels ops;
    private final CudaRecall recall;
    private final List<CudaAttention> kernels;
    private final int warmups;
    private final int iters;

    /** The configured wgmma kernel (where the card has it) and mma.sync. */
    public AttentionBenchmark(CudaDevice device, int warmups, int iters) {
        this(device, warmups, iters, List.of(AttentionKernel.configured(), AttentionKernel.MMA_SYNC));
    }

    /** These kernel families, in this order; those that run the same kernel on this card once. */
    public AttentionBenchmark(CudaDevice device, int warmups, int iters, List<AttentionKernel> families) {
        this.device = device;
        this.ops = new CudaKernels(device);
        this.recall = new CudaRecall(ops);
        List<CudaAttention> distinct = new java.util.ArrayList<>();
        for (AttentionKernel f : families) {
            CudaAttention a = new CudaAttention(device, f);
            if (distinct.stream().noneMatch(d -> d.kernel() == a.kernel())) {
                distinct.add(a);
            }
        }
        this.kernels = List.copyOf(distinct);
        this.warmups = warmups;
        this.iters = iters;
    }

    /** Runs every policy on one shape (B, grid, H, D); prints and returns the results. */
    public List<Result> run(int batch, VideoGrid grid, int heads, int headDim, int genHeads, List<AttentionPolicy> policies,
                            long seed, PrintStream out) {
        return run(batch, grid, heads, headDim, genHeads, policies, VideoLikeInputs.Knobs.defaults(), seed, out);
    }

    /** As {@link #run(int, VideoGrid, int, int, int, List, long, PrintStream)} on video-like inputs with these knobs. */
    public List<Result> run(int batch, VideoGrid grid, int heads, int headDim, int genHeads, List<AttentionPolicy> policies,
                            VideoLikeInputs.Knobs knobs, long seed, PrintStream out) {
        int seqLen = grid.tokens();
        int gh = Math.min(genHeads, heads);
        long t0 = System.nanoTime();
        QkvInput gen = VideoLikeInputs.videoLike(batch, grid, gh, headDim, knobs, seed);
        out.printf(Locale.ROOT, "{\"inputs\":\"video-like, %d of %d heads generated and repeated\",\"grid\":\"%s\",\"peak\":%s,\"gen_s\":%.1f}%n",
                gh, heads, grid, knobs.peak(), (System.nanoTime() - t0) * 1e-9);
        int[] shape = {batch, seqLen, heads, headDim};
        AttentionOptions options = AttentionOptions.withGrid(grid);
        List<Result> results = new java.util.ArrayList<>();
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer q = upload(gen.q().data(), batch, seqLen, heads, gh, headDim);
            DeviceBuffer k = upload(gen.k().data(), batch, seqLen, heads, gh, headDim);
            DeviceBuffer v = upload(gen.v().data(), batch, seqLen, heads, gh, headDim);
            DeviceBuffer o = ops.allocate(DType.F32, shape);
            DeviceBuffer stats = kernels.get(0).newStatsBuffer();
            double dense = 4.0 * batch * heads * (double) seqLen * seqLen * headDim;
            java.util.Set<String> timed = new java.util.HashSet<>();
            for (CudaAttention attention : kernels) {
                String impl = attention.kernel() == AttentionKernel.MMA_SYNC ? "ours-mma-sync" : "ours-wgmma";
                for (AttentionPolicy p : policies) {
                    String kernel = attention.kernelFor(p, headDim).label();
                    if (!timed.add(kernel + " " + p.spec())) {
                        continue; // a listed policy runs the same kernels under wg1 and wg2: timed once
                    }
                    for (int i = 0; i < warmups; i++) {
                        attention.forward(p, options, q, k, v, o, null, null, stats);
                    }
                    double[] ms = new double[iters];
                    double[] planMs = new double[iters];
                    CudaAttention.Stats st = null;
                    try (CudaEvent start = device.newEvent(); CudaEvent end = device.newEvent()) {
                        for (int i = 0; i < iters; i++) {
                            ops.fill(stats, 0);
                            start.record();
                            attention.launch(p, options, q, k, v, o, null, null, stats);
                            end.record();
                            end.synchronize();
                            ms[i] = end.elapsedMsSince(start);
                            st = attention.readStats(stats);
                        }
                        if (AttentionPlanner.needsPlan(p)) {
                            for (int i = 0; i < iters; i++) {
                                try (DeviceArena.Scope planScope = device.arena().scope()) {
                                    start.record();
                                    attention.planner().plan(p, options, q, k, false);
                                    end.record();
                                    end.synchronize();
                                    planMs[i] = end.elapsedMsSince(start);
                                }
                            }
                        }
                    }
                    CudaRecall.Summary recall = measureRecall(attention, p, options, q, k, v, o, stats, batch, seqLen, heads, gh);
                    double med = median(ms);
                    double real = dense - st.flopsSaved();
                    Result r = new Result(impl, kernel, p.spec(), batch, seqLen, heads, headDim, med, dense / (med * 1e-3) / 1e12,
                            real / 1e12, real / (med * 1e-3) / 1e12, st.tileSparsity(),
                            (double) st.tilesSkippedBeforeQk() / st.tilesTotal(), median(planMs), ms, recall, knobs.peak(),
                            kernel.equals(AttentionKernel.WS_FP8.label()) ? relL2VsBf16(p, options, q, k, v, o, stats) : Double.NaN);
                    out.println(r.json());
                    results.add(r);
                }
            }
        }
        return results;
    }

    /**
     * Measured recall of one more run of the policy (outside the timing): its keep flags and a second pass
     * over QKᵀ on the generated heads 0 .. gh−1 (the other heads repeat them, with the same decisions).
     */
    private CudaRecall.Summary measureRecall(CudaAttention attention, AttentionPolicy p, AttentionOptions options, DeviceBuffer q,
                                             DeviceBuffer k, DeviceBuffer v, DeviceBuffer o, DeviceBuffer stats, int batch,
                                             int seqLen, int heads, int gh) {
        int bc = p.tiling().bc();
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer keep = ops.allocate(DType.I32, batch, heads, p.tiling().qTiles(seqLen), (seqLen + bc - 1) / bc);
            ops.fill(stats, 0);
            attention.forward(p, options, q, k, v, o, null, keep, stats);
            int[] sampled = new int[gh];
            for (int h = 0; h < gh; h++) {
                sampled[h] = h;
            }
            return CudaRecall.Summary.of(recall.rowRecalls(q, k, keep, p.tiling(), sampled));
        }
    }

    /** ‖o − o_ws‖ / ‖o_ws‖ with o_ws the bf16 ws kernel's output of the same policy and inputs (o: the last run's). */
    private double relL2VsBf16(AttentionPolicy p, AttentionOptions options, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                               DeviceBuffer o, DeviceBuffer stats) {
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer ref = ops.allocate(DType.F32, o.shape());
            new CudaAttention(device, AttentionKernel.WS).forward(p, options, q, k, v, ref, null, null, stats);
            float[] a = o.toFloatArray(), b = ref.toFloatArray();
            double num = 0, den = 0;
            for (int i = 0; i < a.length; i++) {
                double d = (double) a[i] - b[i];
                num += d * d;
                den += (double) b[i] * b[i];
            }
            return Math.sqrt(num / den);
        }
    }

    private static double median(double[] x) {
        double[] sorted = x.clone();
        Arrays.sort(sorted);
        return sorted[x.length / 2];
    }

    /** bf16 [B, L, H, D] from a generated [B, L, gh, D], head h taking generated head h % gh. */
    private DeviceBuffer upload(float[] src, int batch, int seqLen, int heads, int gh, int headDim) {
        long n = (long) batch * seqLen * heads * headDim;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("Benchmark shape too large for one host array: " + n + " elements");
        }
        short[] dst = new short[(int) n];
        for (int b = 0; b < batch; b++) {
            for (int l = 0; l < seqLen; l++) {
                for (int h = 0; h < heads; h++) {
                    int from = ((b * seqLen + l) * gh + h % gh) * headDim;
                    int to = ((b * seqLen + l) * heads + h) * headDim;
                    for (int d = 0; d < headDim; d++) {
                        dst[to + d] = HalfFloats.floatToBf16(src[from + d]);
                    }
                }
            }
        }
        DeviceBuffer buf = ops.allocate(DType.BF16, batch, seqLen, heads, headDim);
        buf.copyFrom(dst);
        return buf;
    }
}
