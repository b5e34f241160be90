package io.sparserender.driver.job;

import com.fasterxml.jackson.databind.JsonNode;
import io.sparserender.driver.output.OutputStore;
import io.sparserender.engine.pipeline.ClipSidecar;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's progress line while clips render: clips done of total, clips per hour, ETA and the mean
 * tile sparsity of the clips finished so far. Counted from the sidecars that exist (the record of truth,
 * so retries and executor losses never miscount), by listing the clips folder every {@code period} —
 * seconds in local mode, a minute on object stores — and once more when the render stage ends; each new
 * sidecar is read once for its sparsity.
 */
final class RenderProgress implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RenderProgress.class);

    private final OutputStore store;
    private final Set<String> todo;
    /** Tile sparsity of each finished clip read so far (NaN where its sidecar records none). */
    private final Map<String, Double> sparsity = new HashMap<>();
    private final long startNanos = System.nanoTime();
    private final Thread thread;
    private volatile boolean stopped;

    RenderProgress(OutputStore store, Set<String> todo, Duration period) {
        this.store = store;
        this.todo = Set.copyOf(todo);
        this.thread = new Thread(() -> loop(period), "render-progress");
        thread.setDaemon(true);
        thread.start();
    }

    private void loop(Duration period) {
        while (!stopped) {
            try {
                Thread.sleep(period.toMillis());
            } catch (InterruptedException e) {
                return;
            }
            if (!stopped) {
                report();
            }
        }
    }

    /** One line: "rendered 3/12 clips, 41.2 clips/h, ETA 0:13:05, mean tile sparsity 0.412" (NaN: "n/a"). */
    String line(int done, double elapsedSeconds, double meanSparsity) {
        double perHour = elapsedSeconds > 0 ? done * 3600.0 / elapsedSeconds : 0;
        String eta = done == 0 ? "unknown" : format((todo.size() - done) * elapsedSeconds / done);
        String mean = Double.isNaN(meanSparsity) ? "n/a" : String.format("%.3f", meanSparsity);
        return String.format("rendered %d/%d clips, %.1f clips/h, ETA %s, mean tile sparsity %s", done, todo.size(),
                perHour, eta, mean);
    }

    /** The line for the sidecars that exist now. */
    synchronized String snapshot() {
        Set<String> finished = new HashSet<>(store.finishedClipIds());
        finished.retainAll(todo);
        for (String id : finished) {
            if (!sparsity.containsKey(id)) {
                try {
                    JsonNode v = ClipSidecar.parse(store.read(store.layout().sidecar(id))).get("tile_sparsity");
                    sparsity.put(id, v == null || v.isNull() ? Double.NaN : v.asDouble());
                } catch (RuntimeException e) {
                    LOG.debug("Cannot read the sidecar of clip {} yet: {}", id, e.getMessage());
                }
            }
        }
        double mean = finished.stream().map(sparsity::get).filter(v -> v != null && !v.isNaN())
                .mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        return line(finished.size(), (System.nanoTime() - startNanos) / 1e9, mean);
    }

    private void report() {
        try {
            LOG.info(snapshot());
        } catch (RuntimeException e) {
            LOG.warn("Cannot count finished clips for the progress line: {}", e.getMessage());
        }
    }

    private static String format(double seconds) {
        long s = Math.round(seconds);
        return String.format("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }

    /** Stops the line, and prints it once more: where the render stage ended. */
    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
        if (!todo.isEmpty()) {
            report();
        }
    }
}
