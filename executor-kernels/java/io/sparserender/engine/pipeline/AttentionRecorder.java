package io.sparserender.engine.pipeline;

import io.sparserender.engine.model.wan.SelfAttention;
import io.sparserender.engine.ops.Ops;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Wraps the DiT's self-attention policy and keeps, per (step, layer), the statistics the policy
 * reports, averaged over the calls of that step and layer (the batched conditional and unconditional
 * passes are one call). A policy that reports nothing (dense) counts as no tile skipped.
 */
public final class AttentionRecorder<T> implements SelfAttention<T> {
    /** A policy that also says what it skipped in its last call. */
    public interface Measured<T> extends SelfAttention<T> {
        /** Tile sparsity, compute saved and (NaN when not measured) recall mean, p05 and error of the last call. */
        double[] lastStatistics();
    }

    /**
     * A policy whose statistics and time arrive later than its call (read back from the device in batches, so
     * the GPU does not wait for the host after every layer): each call is reported once to the sink, in call
     * order, at the latest when {@link #drain} is called.
     */
    public interface Deferred<T> extends SelfAttention<T> {
        /** Where reports go: the call's site, its statistics as {@link Measured#lastStatistics}, its seconds. */
        interface Sink {
            void report(Site site, double[] statistics, double seconds);
        }

        void reportTo(Sink sink);

        /** Reports every call made so far. */
        void drain();
    }

    private final SelfAttention<T> policy;
    private final Map<Long, double[]> sums = new TreeMap<>();
    private double attentionSeconds;

    AttentionRecorder(SelfAttention<T> policy) {
        this.policy = policy;
        if (policy instanceof Deferred<T> d) {
            d.reportTo(this::record);
        }
    }

    @Override
    public T attend(Ops<T> ops, T q, T k, T v, Site site) {
        if (policy instanceof Deferred<T>) {
            return policy.attend(ops, q, k, v, site);
        }
        long t0 = System.nanoTime();
        T out = policy.attend(ops, q, k, v, site);
        double seconds = (System.nanoTime() - t0) / 1e9;
        double[] s = policy instanceof Measured<T> m ? m.lastStatistics()
                : new double[] {0, 0, Double.NaN, Double.NaN, Double.NaN};
        record(site, s, seconds);
        return out;
    }

    private void record(Site site, double[] s, double seconds) {
        attentionSeconds += seconds;
        double[] acc = sums.computeIfAbsent(((long) site.step() << 32) | site.layer(), key -> new double[6]);
        for (int i = 0; i < 5; i++) {
            acc[i] += s[i];
        }
        acc[5]++;
    }

    private void drain() {
        if (policy instanceof Deferred<T> d) {
            d.drain();
        }
    }

    /** Seconds spent in self-attention (device time for a deferred policy, wall time otherwise). */
    double attentionSeconds() {
        drain();
        return attentionSeconds;
    }

    List<LayerStepStats> statistics() {
        drain();
        List<LayerStepStats> out = new ArrayList<>();
        sums.forEach((key, a) -> out.add(new LayerStepStats((int) (key >>> 32), (int) (long) key, a[0] / a[5],
                a[1] / a[5], a[2] / a[5], a[3] / a[5], a[4] / a[5])));
        return out;
    }
}
