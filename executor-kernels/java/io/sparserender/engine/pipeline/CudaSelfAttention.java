package io.sparserender.engine.pipeline;

import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.gpu.CudaAttention;
import io.sparserender.engine.gpu.CudaDevice;
import io.sparserender.engine.gpu.CudaEvent;
import io.sparserender.engine.gpu.CudaOps;
import io.sparserender.engine.gpu.CudaRecall;
import io.sparserender.engine.gpu.DeviceBuffer;
import io.sparserender.engine.gpu.LseRecall;
import io.sparserender.engine.gpu.OpTimer;
import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The DiT's self-attention on the GPU: the fused policy kernel ({@link CudaAttention}) for every policy
 * and head width it runs, with the tile counters it accumulates on the device as the statistics. A policy
 * the kernel does not run (or a head width other than 64/128) goes through the CPU reference
 * ({@link PolicySelfAttention}) on host copies: correct, slow, and said once in the log.
 * Recall is measured on sampled calls: on every {@value #RECALL_EVERY_STEPS}-th step, every row of heads 0 and H/2
 * ({@link LseRecall}: the call writes its log-sum-exp, a dense call of the same arithmetic over the two heads gives the
 * whole mass, recall = exp of the difference; read back at once). The earlier second QKᵀ pass on the CUDA cores
 * ({@link CudaRecall}) made a 5B clip's sampled step 8.3 s against 1.0 s on every row (docs/BENCHMARKS.md). Its error
 * versus dense is not measured here (NaN).
 *
 * <p>The kernel's counters go to a slot of the device's counter buffer ({@link CudaDevice#counters}) and the
 * call is bracketed by two events; all pending slots and events are read at once when the slots run out or
 * the recorder drains (once per clip, or every {@link CudaDevice#COUNTER_SLOTS} calls), so the host never
 * stops the stream to read one layer's counters.
 */
public final class CudaSelfAttention implements AttentionRecorder.Measured<DeviceBuffer>, AttentionRecorder.Deferred<DeviceBuffer> {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CudaSelfAttention.class);
    /** Recall is measured on steps 0, 8, 16, ... (7 of a 50-step clip). */
    public static final int RECALL_EVERY_STEPS = 8;

    private final AttentionPolicy policy;
    private final OpTimer timer;
    private CudaAttention kernel;
    private PolicySelfAttention hostFallback;
    private double[] last = {0, 0, Double.NaN, Double.NaN, Double.NaN};
    private AttentionRecorder.Deferred.Sink sink;
    private final List<Pending> pending = new ArrayList<>();
    private final List<CudaEvent> events = new ArrayList<>();
    private CudaDevice device;

    /**
     * A kernel call whose counters (slot) and events (2·slot, 2·slot + 1) are not read yet, and its recall {mean, p05}
     * being summarised off the render thread ({NaN, NaN} when not sampled).
     */
    private record Pending(Site site, int slot, double denseFlops, java.util.concurrent.CompletableFuture<double[]> recall) {}

    private LseRecall recall;

    public CudaSelfAttention(AttentionPolicy policy, OpTimer timer) {
        this.policy = policy;
        this.timer = timer;
    }

    /** The self-attention for a canonical policy spec on the GPU. */
    public static CudaSelfAttention forSpec(String spec, OpTimer timer) {
        return new CudaSelfAttention(PolicySpec.parse(spec), timer);
    }

    @Override
    public DeviceBuffer attend(Ops<DeviceBuffer> ops, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, Site site) {
        CudaOps cuda = (CudaOps) ops;
        int headDim = q.dim(3);
        if (!CudaAttention.supports(policy, headDim)) {
            return onHost(cuda, q, k, v, site);
        }
        if (kernel == null) {
            kernel = new CudaAttention(cuda.device());
        }
        DeviceBuffer qb = q.dtype() == DType.BF16 ? q : cuda.convert(q, DType.BF16);
        DeviceBuffer kb = k.dtype() == DType.BF16 ? k : cuda.convert(k, DType.BF16);
        DeviceBuffer vb = v.dtype() == DType.BF16 ? v : cuda.convert(v, DType.BF16);
        // bf16 where the kernel writes it (the ws kernels): the o-projection's operand, no conversion pass after
        DeviceBuffer out = cuda.device().arena().allocate(kernel.writesBf16(policy, headDim) ? DType.BF16 : DType.F32, q.shape());
        boolean sampled = !(policy instanceof io.sparserender.engine.attention.AttentionPolicy.Dense)
                && PolicySelfAttention.sampledStep(site.step(), RECALL_EVERY_STEPS);
        DeviceBuffer lse = sampled ? cuda.device().arena().allocate(DType.F32, q.dim(0), q.dim(2), q.dim(1)) : null;
        if (sink == null) { // used on its own: read back after each call
            DeviceBuffer stats = kernel.newStatsBuffer();
            cuda.kernels().fill(stats, 0);
            timer.time(cuda.device(), OpTimer.Kind.ATTENTION, () -> kernel.launch(policy, options(site), qb, kb, vb, out, lse, null, stats));
            double[] r = sampledRecall(cuda, qb, kb, vb, lse).join();
            last = statistics(kernel.readStats(stats), denseFlops(q), r[0], r[1]);
            return out;
        }
        if (pending.size() == CudaDevice.COUNTER_SLOTS) {
            drain();
        }
        int slot = pending.size();
        device = cuda.device();
        DeviceBuffer stats = device.counters().view((long) slot * CudaDevice.COUNTER_SLOT_INTS, CudaDevice.COUNTER_SLOT_INTS);
        while (events.size() < 2 * (slot + 1)) {
            events.add(device.newEvent());
        }
        cuda.kernels().fill(stats, 0);
        events.get(2 * slot).record();
        timer.time(device, OpTimer.Kind.ATTENTION, () -> kernel.launch(policy, options(site), qb, kb, vb, out, lse, null, stats));
        events.get(2 * slot + 1).record();
        pending.add(new Pending(site, slot, denseFlops(q), sampledRecall(cuda, qb, kb, vb, lse)));
        return out;
    }

    /**
     * Mean and 5th percentile of the recall of every row of heads 0 and H/2, every batch row: the log-sum-exps are read
     * back here (waits for the device), the ~10⁵ rows summarised on the common pool while the render thread goes on.
     * {NaN, NaN} at once when {@code lse} is null (a call not sampled).
     */
    private java.util.concurrent.CompletableFuture<double[]> sampledRecall(CudaOps cuda, DeviceBuffer q, DeviceBuffer k,
                                                                          DeviceBuffer v, DeviceBuffer lse) {
        if (lse == null) {
            return java.util.concurrent.CompletableFuture.completedFuture(new double[] {Double.NaN, Double.NaN});
        }
        if (recall == null) {
            recall = new LseRecall(cuda);
        }
        int heads = q.dim(2);
        int[] sampledHeads = heads > 1 ? new int[] {0, heads / 2} : new int[] {0};
        LseRecall.LogSumExps lses = recall.logSumExps(q, k, v, lse, kernel.eightBit(policy, q.dim(3)), sampledHeads);
        return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            CudaRecall.Summary s = CudaRecall.Summary.of(lses.recalls());
            return new double[] {s.mean(), s.p05()};
        });
    }

    @Override
    public void reportTo(Sink sink) {
        this.sink = sink;
    }

    @Override
    public void drain() {
        if (pending.isEmpty()) {
            return;
        }
        int[] all = device.counters().toIntArray(); // waits for the stream
        for (Pending p : pending) {
            int[] words = java.util.Arrays.copyOfRange(all, p.slot() * CudaDevice.COUNTER_SLOT_INTS,
                    (p.slot() + 1) * CudaDevice.COUNTER_SLOT_INTS);
            double seconds = events.get(2 * p.slot() + 1).elapsedMsSince(events.get(2 * p.slot())) / 1e3;
            double[] r = p.recall().join();
            last = statistics(CudaAttention.Stats.fromWords(words), p.denseFlops(), r[0], r[1]);
            sink.report(p.site(), last.clone(), seconds);
        }
        pending.clear();
        events.forEach(CudaEvent::close);
        events.clear();
    }

    private static io.sparserender.engine.attention.AttentionOptions options(Site site) {
        return new io.sparserender.engine.attention.AttentionOptions(
                new io.sparserender.engine.attention.VideoGrid(site.frames(), site.height(), site.width()), null);
    }

    private static double denseFlops(DeviceBuffer q) {
        return 4.0 * q.dim(0) * q.dim(2) * (double) q.dim(1) * q.dim(1) * q.dim(3);
    }

    private static double[] statistics(CudaAttention.Stats s, double dense, double recallMean, double recallP05) {
        return new double[] {s.tileSparsity(), dense == 0 ? 0 : s.flopsSaved() / dense, recallMean, recallP05, Double.NaN};
    }

    private DeviceBuffer onHost(CudaOps cuda, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, Site site) {
        if (hostFallback == null) {
            LOG.warn("Policy '{}' at head dim {} has no GPU kernel: self-attention runs on the CPU reference (slow)",
                    policy.spec(), q.dim(3));
            hostFallback = new PolicySelfAttention(policy, 0);
        }
        long t0 = System.nanoTime();
        Tensor o = hostFallback.attend(HOST, cuda.toHost(q), cuda.toHost(k), cuda.toHost(v), site);
        last = hostFallback.lastStatistics();
        if (sink != null) {
            drain(); // keep the reports in call order
            sink.report(site, last.clone(), (System.nanoTime() - t0) / 1e9);
        }
        return cuda.fromHost(o);
    }

    private static final io.sparserender.engine.ops.CpuOps HOST = new io.sparserender.engine.ops.CpuOps();

    @Override
    public double[] lastStatistics() {
        return last.clone();
    }
}
