package io.sparserender.driver.executor;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.sparserender.driver.staging.StagedModel;
import io.sparserender.engine.pipeline.RenderResult;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;

/**
 * This executor's render metrics, published through Spark's metrics system by {@link RenderPlugin}
 * (source {@code plugin.io.sparserender.driver.executor.RenderPlugin}; docs/OPERATIONS.md lists the names).
 * One instance per executor start; where no plugin is configured, the metrics are kept and published nowhere.
 */
public final class RenderMetrics {
    private static volatile RenderMetrics current = new RenderMetrics();

    private final Counter clipsRendered = new Counter();
    private final Counter clipsFailed = new Counter();
    private final Counter clipsSkipped = new Counter();
    private final Counter denoisingSteps = new Counter();
    private final DoubleAdder ditSeconds = new DoubleAdder();
    private final DoubleAdder renderSeconds = new DoubleAdder();
    private final DoubleAdder sparsitySum = new DoubleAdder();
    private final AtomicLong sparsityClips = new AtomicLong();
    private final AtomicLong peakDeviceBytes = new AtomicLong();
    private volatile StagedModel staged;

    /** Fresh metrics for an executor that is starting, registered in its plugin registry. */
    static RenderMetrics start(MetricRegistry registry) {
        RenderMetrics m = new RenderMetrics();
        registry.register("clipsRendered", m.clipsRendered);
        registry.register("clipsFailed", m.clipsFailed);
        registry.register("clipsSkipped", m.clipsSkipped);
        registry.register("denoisingSteps", m.denoisingSteps);
        registry.register("ditSeconds", (Gauge<Double>) m.ditSeconds::sum);
        registry.register("renderSeconds", (Gauge<Double>) m.renderSeconds::sum);
        registry.register("meanTileSparsity", (Gauge<Double>) m::meanTileSparsity);
        registry.register("peakDeviceBytes", (Gauge<Long>) m.peakDeviceBytes::get);
        registry.register("stagedBytes", (Gauge<Long>) () -> m.staged == null ? 0L : m.staged.bytesCopied());
        registry.register("stagingSeconds", (Gauge<Double>) () -> m.staged == null ? 0.0 : m.staged.millis() / 1000.0);
        registry.register("stagingReused", (Gauge<Integer>) () -> m.staged != null && m.staged.reused() ? 1 : 0);
        current = m;
        return m;
    }

    public static RenderMetrics current() {
        return current;
    }

    public void rendered(RenderResult result) {
        clipsRendered.inc();
        ditSeconds.add(result.stageSeconds().getOrDefault("dit", 0.0));
        renderSeconds.add(result.stageSeconds().getOrDefault("total", 0.0));
        double s = result.tileSparsity();
        if (Double.isFinite(s)) {
            sparsitySum.add(s);
            sparsityClips.incrementAndGet();
        }
        peakDeviceBytes.accumulateAndGet(result.peakDeviceBytes(), Math::max);
    }

    public void failed() {
        clipsFailed.inc();
    }

    public void skipped() {
        clipsSkipped.inc();
    }

    public void step() {
        denoisingSteps.inc();
    }

    void staged(StagedModel model) {
        staged = model;
    }

    /** Mean tile sparsity over the clips this executor rendered; NaN before the first. */
    public double meanTileSparsity() {
        long n = sparsityClips.get();
        return n == 0 ? Double.NaN : sparsitySum.sum() / n;
    }

    public long clipsRendered() {
        return clipsRendered.getCount();
    }
}
