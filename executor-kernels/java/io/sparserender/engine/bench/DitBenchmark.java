package io.sparserender.engine.bench;

import io.sparserender.engine.gpu.CudaDevice;
import io.sparserender.engine.gpu.CudaEvent;
import io.sparserender.engine.gpu.CudaKernels;
import io.sparserender.engine.gpu.CudaOps;
import io.sparserender.engine.gpu.DeviceArena;
import io.sparserender.engine.gpu.DeviceBuffer;
import io.sparserender.engine.gpu.GemmPrecision;
import io.sparserender.engine.gpu.OpTimer;
import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.model.wan.WanConfig;
import io.sparserender.engine.model.wan.WanTransformer;
import io.sparserender.engine.model.wan.WanWeights;
import io.sparserender.engine.pipeline.CudaSelfAttention;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.sampler.NoiseGenerator;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * One DiT forward on the GPU with random weights made on the device (no checkpoint is read): the total
 * time (CUDA events, median of {@code iters} after {@code warmups}) and, in one further forward with an
 * {@link OpTimer}, the device time split into GEMMs, attention (self and cross) and the rest. The split
 * run serialises host and device around every operation, so its parts add up to more than the total.
 * Also per forward: the bytes the arena copied to keep results across scope closes ({@code arena_moved_gib}:
 * device time outside every timed operation) and the host's wall time for the forward call, which returns once
 * everything is queued ({@code enqueue_ms}: well below {@code median_ms}, the host ran ahead and the launches'
 * own cost is hidden; near it, either the host is the bottleneck or the launch queue was full).
 *
 * <p>Weights: matrices uniform in ±1/√fan_in (bf16), biases ±0.02, RMS/affine norm weights 1 (float32),
 * modulation tables ±0.1; latents Philox normal; text rows uniform ±1. They are for timing only: the
 * sparsity a policy reaches on random weights says nothing about real checkpoints.
 */
public final class DitBenchmark {
    /** One measured configuration. */
    public record Result(String policy, int batch, int tokens, double medianMs, double[] allMs, double gemmMs, double attentionMs,
                         double otherMs, long launches, double tileSparsity, long arenaPeakBytes, long movedBytes, double enqueueMs) {
        public String json() {
            return String.format(Locale.ROOT,
                    "{\"policy\":\"%s\",\"b\":%d,\"tokens\":%d,\"median_ms\":%.1f,\"all_ms\":%s,\"split_ms\":{\"gemm\":%.1f,"
                            + "\"attention\":%.1f,\"other\":%.1f},\"launches\":%d,\"mean_tile_sparsity\":%.4f,\"arena_peak_gib\":%.2f,"
                            + "\"arena_moved_gib\":%.2f,\"enqueue_ms\":%.1f}",
                    policy, batch, tokens, medianMs, Arrays.toString(round(allMs)), gemmMs, attentionMs, otherMs, launches,
                    tileSparsity, arenaPeakBytes / (double) (1L << 30), movedBytes / (double) (1L << 30), enqueueMs);
        }

        private static double[] round(double[] v) {
            return Arrays.stream(v).map(x -> Math.round(x * 10) / 10.0).toArray();
        }
    }

    private final CudaDevice device;
    private final int warmups;
    private final int iters;

    public DitBenchmark(CudaDevice device, int warmups, int iters) {
        this.device = device;
        this.warmups = warmups;
        this.iters = iters;
    }

    /**
     * Times forwards of {@code config} on latents [batch, C, latentFrames, latentH, latentW] for each policy.
     */
    public List<Result> run(WanConfig config, int batch, int latentFrames, int latentH, int latentW, List<String> policies,
                            long seed, PrintStream out) {
        return device.call(() -> {
            OpTimer timer = new OpTimer();
            CudaOps timedOps = new CudaOps(device, timer);
            CudaOps ops = new CudaOps(device);
            DeviceArena arena = device.arena();
            long t0 = System.nanoTime();
            long[] counter = {seed};
            WanWeights<DeviceBuffer> weights = WanWeights.synthetic(config, (name, shape) -> randomParameter(ops, name, shape, counter[0]++));
            device.synchronize();
            out.printf(Locale.ROOT, "{\"weights\":\"random on the device\",\"gib\":%.2f,\"make_s\":%.1f,\"gemm_precision\":\"%s\"}%n",
                    arena.usedBytes() / (double) (1L << 30), (System.nanoTime() - t0) * 1e-9, ops.precision().label());
            int[] latentShape = {batch, config.inChannels(), latentFrames, latentH, latentW};
            int tokens = latentFrames / config.patchT() * (latentH / config.patchH()) * (latentW / config.patchW());
            DeviceBuffer latents = ops.fromHost(NoiseGenerator.normal(seed, latentShape));
            Tensor textHost = new Tensor(uniform(seed + 7, batch * config.textLen() * config.textDim()), batch, config.textLen(),
                    config.textDim());
            DeviceBuffer text = ops.fromHost(textHost);
            Timesteps t = Timesteps.uniform(batch, 500);
            List<Result> results = new java.util.ArrayList<>();
            for (String policy : policies) {
                CudaSelfAttention attention = CudaSelfAttention.forSpec(policy, OpTimer.OFF);
                SparsityProbe probe = new SparsityProbe(attention);
                WanTransformer<DeviceBuffer> dit = new WanTransformer<>(ops, weights, probe);
                double[] ms = new double[iters];
                double[] enqueue = new double[iters];
                long moved = 0;
                long peakBefore;
                try (DeviceArena.Scope s = arena.scope()) {
                    WanTransformer.Prompt<DeviceBuffer> prompt = dit.encodePrompt(text);
                    for (int i = 0; i < warmups + iters; i++) {
                        try (DeviceArena.Scope step = arena.scope(); CudaEvent a = device.newEvent(); CudaEvent b = device.newEvent()) {
                            probe.reset();
                            long movedBefore = arena.movedBytes();
                            a.record();
                            long h0 = System.nanoTime();
                            dit.forward(latents, t, prompt, -1); // no step: no sampled recall pass inside the timing
                            long h1 = System.nanoTime();
                            b.record();
                            float elapsed = b.elapsedMsSince(a);
                            if (i >= warmups) {
                                ms[i - warmups] = elapsed;
                                enqueue[i - warmups] = (h1 - h0) / 1e6;
                                moved = arena.movedBytes() - movedBefore;
                            }
                        }
                    }
                    peakBefore = arena.peakBytes();
                }
                // the split: one more forward with every operation bracketed by events
                CudaSelfAttention timedAttention = CudaSelfAttention.forSpec(policy, timer);
                WanTransformer<DeviceBuffer> timedDit = new WanTransformer<>(timedOps, weights, timedAttention);
                timer.reset();
                try (DeviceArena.Scope s = arena.scope()) {
                    timedDit.forward(latents, t, timedDit.encodePrompt(text), -1);
                    device.synchronize();
                }
                double[] sorted = ms.clone();
                Arrays.sort(sorted);
                double[] sortedEnqueue = enqueue.clone();
                Arrays.sort(sortedEnqueue);
                long launches = timer.calls(OpTimer.Kind.GEMM) + timer.calls(OpTimer.Kind.ATTENTION) + timer.calls(OpTimer.Kind.OTHER);
                Result r = new Result(policy, batch, tokens, sorted[sorted.length / 2], ms, timer.milliseconds(OpTimer.Kind.GEMM),
                        timer.milliseconds(OpTimer.Kind.ATTENTION), timer.milliseconds(OpTimer.Kind.OTHER), launches,
                        probe.meanSparsity(), peakBefore, moved, sortedEnqueue[sortedEnqueue.length / 2]);
                out.println(r.json());
                out.println(byLaunchJson(policy, timer));
                results.add(r);
            }
            if (ops.precision() != GemmPrecision.BF16) {
                out.println(precisionError(ops, weights, latents, text, t));
            }
            return results;
        });
    }

    /**
     * The forward's output in this precision against bf16 on the same weights and inputs (dense attention, one forward
     * each): {@code ‖y − y_bf16‖ / ‖y_bf16‖} over every output element.
     */
    private String precisionError(CudaOps ops, WanWeights<DeviceBuffer> weights, DeviceBuffer latents, DeviceBuffer text,
                                  Timesteps t) {
        CudaOps bf16 = new CudaOps(device, OpTimer.OFF, GemmPrecision.BF16);
        try (DeviceArena.Scope s = device.arena().scope()) {
            WanTransformer<DeviceBuffer> low = new WanTransformer<>(ops, weights, CudaSelfAttention.forSpec("dense", OpTimer.OFF));
            WanTransformer<DeviceBuffer> ref = new WanTransformer<>(bf16, weights, CudaSelfAttention.forSpec("dense", OpTimer.OFF));
            float[] y = ops.toHost(low.forward(latents, t, low.encodePrompt(text), -1)).data();
            float[] r = bf16.toHost(ref.forward(latents, t, ref.encodePrompt(text), -1)).data();
            double num = 0;
            double den = 0;
            for (int i = 0; i < y.length; i++) {
                num += (double) (y[i] - r[i]) * (y[i] - r[i]);
                den += (double) r[i] * r[i];
            }
            return String.format(Locale.ROOT, "{\"gemm_precision\":\"%s\",\"forward_rel_l2_vs_bf16\":%.5f}",
                    ops.precision().label(), Math.sqrt(num / den));
        }
    }

    /** The split run's device time per kernel (or GEMM shape), the longest first: where "other" goes. */
    public static String byLaunchJson(String policy, OpTimer timer) {
        StringBuilder b = new StringBuilder("{\"policy\":\"").append(policy).append("\",\"split_by_launch\":[");
        String sep = "";
        for (OpTimer.Launches l : timer.byLaunch()) {
            b.append(sep).append(String.format(Locale.ROOT, "{\"what\":\"%s\",\"kind\":\"%s\",\"calls\":%d,\"ms\":%.2f}",
                    l.what(), l.kind().name().toLowerCase(Locale.ROOT), l.calls(), l.milliseconds()));
            sep = ",";
        }
        return b.append("]}").toString();
    }

    /** As a loaded checkpoint would give it ({@link CudaOps#parameter}): vectors with their bf16 bias copy, matrices with
     *  their FP8 copy under {@link io.sparserender.engine.gpu.GemmPrecision#FP8}. */
    private static DeviceBuffer randomParameter(CudaOps ops, String name, int[] shape, long seed) {
        CudaKernels k = ops.kernels();
        DeviceArena arena = k.device().arena();
        if (shape.length >= 2) {
            long fanIn = Tensor.numel(shape) / shape[0];
            float a = (float) (1 / Math.sqrt(fanIn));
            DeviceBuffer b = arena.allocate(DType.BF16, shape);
            k.fillUniform(b, seed, -a, a);
            return ops.prepareFp8(b);
        }
        DeviceBuffer b = arena.allocate(DType.F32, shape);
        if (name.contains("norm")) {
            k.fill(b, Float.floatToRawIntBits(1f));
            return b;
        }
        float a = name.endsWith("scale_shift_table") ? 0.1f : 0.02f;
        try (DeviceArena.Scope s = arena.scope()) {
            DeviceBuffer tmp = arena.allocate(DType.BF16, shape);
            k.fillUniform(tmp, seed, -a, a);
            k.convert(tmp, b);
        }
        return ops.prepareBias(b);
    }

    private static float[] uniform(long seed, int n) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return x;
    }

    /** Passes calls through and averages the tile sparsity the policy reports (read back in batches, as in a render). */
    private static final class SparsityProbe implements io.sparserender.engine.model.wan.SelfAttention<DeviceBuffer> {
        private final CudaSelfAttention inner;
        private double sum;
        private int calls;

        SparsityProbe(CudaSelfAttention inner) {
            this.inner = inner;
            inner.reportTo((site, statistics, seconds) -> {
                sum += statistics[0];
                calls++;
            });
        }

        @Override
        public DeviceBuffer attend(io.sparserender.engine.ops.Ops<DeviceBuffer> ops, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                                   Site site) {
            return inner.attend(ops, q, k, v, site);
        }

        void reset() {
            inner.drain();
            sum = 0;
            calls = 0;
        }

        double meanSparsity() {
            inner.drain();
            return calls == 0 ? 0 : sum / calls;
        }
    }
}
