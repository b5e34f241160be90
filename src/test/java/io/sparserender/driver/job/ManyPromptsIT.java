package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.prompts.ClipDefaults;
import io.sparserender.driver.prompts.PolicyCanonicalizer;
import io.sparserender.driver.spark.SparkSettings;
import io.sparserender.testing.CapturedLogs;
import io.sparserender.testing.LocalSpark;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.logging.log4j.Level;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many prompts through one generate run in Spark local mode (2 threads) with the stand-in renderer (no
 * model time, so what is left is the pipeline's own cost): driver heap, time of each phase, cost per
 * clip of the render stage, and whether the progress line counts right. The prompt file holds
 * duplicates (5%) and bad rows (1%), and a first run with a limit leaves 5% of the clips done, so the
 * progress total must be what is left.
 *
 * <p>{@code -Dsparserender.load.prompts=N}: 400 by default (CI); the record in docs/RELIABILITY.md is
 * N = 10,000. The summary line is printed and written to {@code target/load-summary.txt}.
 */
class ManyPromptsIT {
    private static final Pattern LINE = Pattern.compile("(\\d+) INFO .*RenderProgress: rendered (\\d+)/(\\d+) clips, "
            + "([0-9.]+) clips/h, ETA (unknown|(\\d+):(\\d\\d):(\\d\\d))");

    @TempDir
    Path dir;

    @Test
    void manyPromptsKeepTheDriverSmallAndTheProgressTrue() throws Exception {
        int n = Integer.getInteger("sparserender.load.prompts", 400);
        Path prompts = dir.resolve("prompts.jsonl");
        List<String> lines = new ArrayList<>(n);
        int bad = 0;
        int dup = 0;
        for (int i = 0; i < n; i++) {
            if (i % 100 == 99) {
                lines.add("{\"prompt\":\"bad row " + i + "\",\"frames\":4}");
                bad++;
            } else if (i % 20 == 19) {
                lines.add("{\"id\":\"dup-" + i + "\",\"prompt\":\"prompt number " + (i - 7) + "\",\"seed\":" + (i - 7) + "}");
                dup++;
            } else {
                lines.add("{\"id\":\"p-" + i + "\",\"prompt\":\"prompt number " + i + "\",\"seed\":" + i + "}");
            }
        }
        Files.write(prompts, lines);
        int clips = n - bad - dup;

        LocalSpark.stopAll();
        SparkSession.Builder b = SparkSession.builder().appName("many-prompts");
        SparkSettings.local(2).forEach(b::config);
        b.config("spark.ui.enabled", "false").config(GenerateRun.PROGRESS_SECONDS, "2");
        SparkSession spark = b.getOrCreate();
        try {
            ClipDefaults defaults = new ClipDefaults("stand-in", "r", 16, "", 0, 64, 32, 5, 2, 5.0, Double.NaN, 5.0, "dense");
            RendererSettings renderer = new RendererSettings(StandInRendererFactory.class.getName(), "cpu", "stand-in", Map.of());
            String out = dir.toUri() + "out/";
            int head = clips / 20;
            new GenerateRun(spark, new GenerateOptions(prompts.toString(), null, out, "load", head, 0.0, defaults,
                    PolicyCanonicalizer.ENGINE, renderer, c -> 1.0, 20)).run();

            System.gc();
            long baseline = heapUsed();
            AtomicLong peak = new AtomicLong(baseline);
            AtomicLong livePeak = new AtomicLong(liveAfterGc());
            Thread sampler = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    peak.accumulateAndGet(heapUsed(), Math::max);
                    livePeak.accumulateAndGet(liveAfterGc(), Math::max);
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "heap-sampler");
            sampler.setDaemon(true);
            GenerateRun.Summary s;
            String log;
            RenderTasks renderTasks = new RenderTasks();
            spark.sparkContext().addSparkListener(renderTasks);
            long t0 = System.nanoTime();
            try (CapturedLogs captured = new CapturedLogs(Level.WARN,
                    Map.of("io.sparserender.driver.job.RenderProgress", Level.INFO))) {
                sampler.start();
                // partitions of ~20 "seconds" at 1 per clip: 20 clips per task, as a GPU would get a few minutes each
                s = new GenerateRun(spark, new GenerateOptions(prompts.toString(), null, out, "load", 0, 0.0, defaults,
                        PolicyCanonicalizer.ENGINE, renderer, c -> 1.0, 20)).run();
                log = captured.text();
            } finally {
                sampler.interrupt();
            }
            long end = System.currentTimeMillis();
            double wall = (System.nanoTime() - t0) / 1e9;
            assertThat(s.rows()).isEqualTo(n);
            assertThat(s.rejected()).isEqualTo(bad);
            assertThat(s.duplicateRows()).isEqualTo(dup);
            assertThat(s.alreadyDone()).isEqualTo(head);
            assertThat(s.rendered()).isEqualTo(clips - head);
            assertThat(s.statsClipRows()).isEqualTo(clips);

            // the progress line: total is what this run renders, counts only grow, the last line is complete
            int todo = clips - head;
            List<long[]> progress = new ArrayList<>(); // time ms, done, eta seconds (-1 unknown)
            Matcher m = LINE.matcher(log);
            while (m.find()) {
                assertThat(Integer.parseInt(m.group(3))).as(m.group()).isEqualTo(todo);
                long eta = m.group(5) == null ? -1 : Long.parseLong(m.group(6)) * 3600 + Long.parseLong(m.group(7)) * 60
                        + Long.parseLong(m.group(8));
                progress.add(new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), eta});
            }
            assertThat(progress).as("progress lines").isNotEmpty();
            for (int i = 1; i < progress.size(); i++) {
                assertThat(progress.get(i)[1]).isGreaterThanOrEqualTo(progress.get(i - 1)[1]);
            }
            assertThat(progress.get(progress.size() - 1)[1]).as("last line").isEqualTo(todo);
            String eta = "no line between 25% and 75%";
            long renderEnd = progress.get(progress.size() - 1)[0];
            for (long[] p : progress) {
                if (p[1] >= todo / 4 && p[1] <= 3 * todo / 4 && p[2] >= 0) {
                    eta = String.format(Locale.ROOT, "at %d/%d the ETA said %d s, %.1f s were left", p[1], todo, p[2],
                            (renderEnd - p[0]) / 1000.0);
                    break;
                }
            }

            double renderSeconds = s.seconds().get("render");
            spark.sparkContext().listenerBus().waitUntilEmpty();
            // slot time of the render stage = time inside tasks (the clips' own work: sidecar check, stand-in,
            // two atomic publishes) + task deserialization + the rest (scheduling, launch, results): Spark's share
            double slotMs = 2000 * renderSeconds;
            String split = String.format(Locale.ROOT, "%d tasks; per clip %.2f ms inside tasks, %.2f ms deserializing"
                    + " tasks, %.2f ms scheduling, launch and results", renderTasks.tasks.get(),
                    (double) renderTasks.runMs.get() / todo, (double) renderTasks.deserializeMs.get() / todo,
                    (slotMs - renderTasks.runMs.get() - renderTasks.deserializeMs.get()) / todo);
            String record = String.format(Locale.ROOT, "many prompts: %d rows (%d clips, %d duplicates, %d bad, %d already done),"
                    + " local[2], stand-in renderer: run %.1f s; phases %s; render stage %.1f ms per clip (%.1f slot-ms: %s);"
                    + " heap %d MiB before the run (after GC), live heap after GC at most %d MiB during it (heap in use"
                    + " including garbage at most %d MiB); %d progress lines, total %d, last %d/%d; ETA %s",
                    n, clips, dup, bad, head, wall, rounded(s.seconds()), 1000 * renderSeconds / todo,
                    2000 * renderSeconds / todo, split, baseline >> 20, livePeak.get() >> 20, peak.get() >> 20, progress.size(), todo,
                    progress.get(progress.size() - 1)[1], todo, eta);
            System.out.println(record);
            Files.writeString(Path.of(System.getProperty("sparserender.basedir", "."), "target", "load-summary.txt"),
                    record + "\n");
            assertThat(end).isPositive();
        } finally {
            spark.stop();
            ExecutorEngine.shutdown();
        }
    }

    /** Task counts and task-side times of the render job (its description says "render"). */
    private static final class RenderTasks extends org.apache.spark.scheduler.SparkListener {
        private final java.util.Set<Integer> stages = java.util.concurrent.ConcurrentHashMap.newKeySet();
        final AtomicLong tasks = new AtomicLong();
        final AtomicLong runMs = new AtomicLong();
        final AtomicLong deserializeMs = new AtomicLong();

        @Override
        public void onJobStart(org.apache.spark.scheduler.SparkListenerJobStart start) {
            String d = start.properties() == null ? "" : String.valueOf(start.properties().getProperty("spark.job.description"));
            if (d.contains(": render ")) {
                scala.jdk.javaapi.CollectionConverters.asJava(start.stageIds()).forEach(id -> stages.add((Integer) id));
            }
        }

        @Override
        public void onTaskEnd(org.apache.spark.scheduler.SparkListenerTaskEnd end) {
            if (stages.contains(end.stageId()) && end.taskMetrics() != null) {
                tasks.incrementAndGet();
                runMs.addAndGet(end.taskMetrics().executorRunTime());
                deserializeMs.addAndGet(end.taskMetrics().executorDeserializeTime());
            }
        }
    }

    private static long heapUsed() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** Heap in use right after the latest collection of each pool: the live set, without garbage not yet collected. */
    private static long liveAfterGc() {
        long sum = 0;
        for (var pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == java.lang.management.MemoryType.HEAP && pool.getCollectionUsage() != null) {
                sum += pool.getCollectionUsage().getUsed();
            }
        }
        return sum;
    }

    private static String rounded(Map<String, Double> seconds) {
        StringBuilder b = new StringBuilder("{");
        seconds.forEach((k, v) -> b.append(b.length() > 1 ? ", " : "").append(k).append(' ')
                .append(String.format(Locale.ROOT, "%.2f", v)).append(" s"));
        return b.append('}').toString();
    }
}
