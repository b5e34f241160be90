package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.prompts.ClipDefaults;
import io.sparserender.driver.prompts.PolicyCanonicalizer;
import io.sparserender.testing.LocalClusterSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Executor loss at random points, over many generate runs on one {@code local-cluster} of two executor
 * JVMs (stand-in renderer, 250 ms a clip): each run gets a random number of clips, and one or two
 * executors are killed (SIGKILL) at random moments, which land in prompt validation, rendering or the
 * statistics write. After every run: every clip once and complete, one stats row per clip, no
 * duplicated layer rows, and a rerun renders nothing.
 *
 * <p>{@code -Dsparserender.soak.runs=N} (default 3, as in CI) and {@code -Dsparserender.soak.seed=S}
 * (default: time) choose the length and the dice; the last line printed is the record for
 * docs/RELIABILITY.md, also written to {@code target/soak-summary.txt}.
 */
class ExecutorLossSoakIT {
    private static final int STEPS = 3;
    private static final int LAYERS = 2; // the stand-in's
    /** Stand-in time per clip: one renderer per executor JVM, so one setting for the whole soak. */
    private static final long CLIP_MS = 250;

    @TempDir
    Path dir;

    @Test
    void randomExecutorLossesLoseAndDuplicateNothing() throws Exception {
        int runs = Integer.getInteger("sparserender.soak.runs", 3);
        long seed = Long.getLong("sparserender.soak.seed", System.nanoTime());
        SplittableRandom dice = new SplittableRandom(seed);
        System.out.printf("soak: %d runs, seed %d%n", runs, seed);
        SparkSession spark = LocalClusterSpark.start(2, Map.of());
        ActiveJobs jobs = new ActiveJobs();
        spark.sparkContext().addSparkListener(jobs);
        int kills = 0;
        int killsMidRun = 0;
        int clipsTotal = 0;
        Map<String, Integer> stagesHit = new java.util.TreeMap<>();
        long t0 = System.nanoTime();
        try {
            for (int run = 0; run < runs; run++) {
                int clips = dice.nextInt(6, 15);
                long delayMs = CLIP_MS;
                int plannedKills = dice.nextInt(1, 3);
                Path runDir = Files.createDirectories(dir.resolve("run" + run));
                GenerateOptions options = options(runDir, clips, delayMs, "soak-" + run);
                // the render stage alone takes about clips × delay / 2 executors; the run is a few seconds longer
                long horizonMs = 4000 + clips * delayMs / 2;
                List<Long> killAt = new ArrayList<>();
                for (int k = 0; k < plannedKills; k++) {
                    killAt.add(dice.nextLong(0, horizonMs));
                }
                killAt.sort(null);
                long start = System.nanoTime();
                CompletableFuture<GenerateRun.Summary> future = CompletableFuture.supplyAsync(() -> new GenerateRun(spark, options).run());
                for (long at : killAt) {
                    long wait = at - (System.nanoTime() - start) / 1_000_000;
                    if (wait > 0) {
                        Thread.sleep(wait);
                    }
                    if (future.isDone()) {
                        break;
                    }
                    ProcessHandle victim = pick(dice);
                    String stage = jobs.now();
                    if (victim != null && victim.destroyForcibly()) {
                        kills++;
                        killsMidRun += future.isDone() ? 0 : 1;
                        stagesHit.merge(stage, 1, Integer::sum);
                        System.out.printf("soak run %d: killed executor pid %d at %d ms, during %s%n", run, victim.pid(),
                                (System.nanoTime() - start) / 1_000_000, stage);
                    }
                }
                GenerateRun.Summary first = future.get(600, TimeUnit.SECONDS);
                assertThat(first.failed()).as("run %d", run).isZero();
                // counted from the sidecars: clips a lost task published and its retry skipped count as rendered
                assertThat(first.rendered()).as("run %d: rendered", run).isEqualTo(clips);
                String manifest = Files.readString(runDir.resolve("out/runs/soak-" + run + ".json"));
                assertThat(new ObjectMapper().readTree(manifest).get("counts").get("rendered").asInt()).isEqualTo(clips);
                assertExactlyOnce(spark, runDir, clips, run);
                GenerateRun.Summary rerun = new GenerateRun(spark, options).run();
                assertThat(rerun.rendered()).as("rerun %d", run).isZero();
                assertThat(rerun.alreadyDone()).isEqualTo(clips);
                assertExactlyOnce(spark, runDir, clips, run);
                clipsTotal += clips;
                System.out.printf("soak run %d: %d clips, %d planned kills: 0 lost, 0 duplicated%n", run, clips, plannedKills);
            }
        } finally {
            spark.stop();
        }
        String record = String.format("soak: %d runs, %d clips, %d executors killed (%d while a run was in progress; "
                + "during %s), 0 clips lost, 0 duplicated, 0 duplicate stats rows, %.0f s, seed %d",
                runs, clipsTotal, kills, killsMidRun, stagesHit, (System.nanoTime() - t0) / 1e9, seed);
        System.out.println(record);
        Files.writeString(Path.of(System.getProperty("sparserender.basedir", "."), "target", "soak-summary.txt"), record + "\n");
        assertThat(killsMidRun).as("executors killed while a run was in progress").isPositive();
    }

    /** The descriptions of the Spark jobs running now, by job id. */
    private static final class ActiveJobs extends org.apache.spark.scheduler.SparkListener {
        private final Map<Integer, String> running = new java.util.concurrent.ConcurrentHashMap<>();

        @Override
        public void onJobStart(org.apache.spark.scheduler.SparkListenerJobStart start) {
            String d = start.properties() == null ? null : start.properties().getProperty("spark.job.description");
            running.put(start.jobId(), d == null ? "job " + start.jobId() : d.replaceFirst("^sparse-render [^:]*: ", ""));
        }

        @Override
        public void onJobEnd(org.apache.spark.scheduler.SparkListenerJobEnd end) {
            running.remove(end.jobId());
        }

        /** What the run is doing: its running job (without clip counts), or driver work between jobs. */
        String now() {
            return running.isEmpty() ? "driver work between jobs"
                    : running.values().iterator().next().replaceFirst(" \\d+ clips in \\d+ partitions", " clips");
        }
    }

    private static ProcessHandle pick(SplittableRandom dice) {
        List<ProcessHandle> executors = ProcessHandle.current().descendants()
                .filter(p -> p.isAlive() && p.info().commandLine().orElse("").contains("CoarseGrainedExecutorBackend"))
                .toList();
        return executors.isEmpty() ? null : executors.get(dice.nextInt(executors.size()));
    }

    private static GenerateOptions options(Path runDir, int clips, long delayMs, String runId) throws Exception {
        Path prompts = runDir.resolve("prompts.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < clips; i++) {
            lines.add("{\"prompt\":\"soak clip " + i + "\",\"seed\":" + i + "}");
        }
        Files.write(prompts, lines);
        ClipDefaults defaults = new ClipDefaults("stand-in", "r", 16, "", 0, 64, 32, 5, STEPS, 5.0, Double.NaN, 5.0, "dense");
        RendererSettings renderer = new RendererSettings(StandInRendererFactory.class.getName(), "cpu", "stand-in",
                Map.of("delay_ms", String.valueOf(delayMs)));
        return new GenerateOptions(prompts.toString(), null, runDir.toUri() + "out/", runId, 0, 0.0, defaults,
                PolicyCanonicalizer.ENGINE, renderer, c -> 1.0, 2.0);
    }

    private static void assertExactlyOnce(SparkSession spark, Path runDir, int clips, int run) throws Exception {
        Path clipDir = runDir.resolve("out/clips");
        ObjectMapper json = new ObjectMapper();
        try (Stream<Path> s = Files.list(clipDir)) {
            List<Path> visible = s.filter(p -> !p.getFileName().toString().startsWith(".")).toList();
            assertThat(visible).as("run %d: mp4 + sidecar per clip", run).hasSize(2 * clips);
            for (Path p : visible) {
                if (p.toString().endsWith(".json")) {
                    Path mp4 = Path.of(p.toString().replace(".json", ".mp4"));
                    assertThat(json.readTree(p.toFile()).get("video_bytes").asLong()).isEqualTo(Files.size(mp4));
                }
            }
        }
        String out = runDir.toUri() + "out/";
        var stats = spark.read().parquet(out + "stats/clips");
        assertThat(stats.count()).as("run %d: stats rows", run).isEqualTo(clips);
        assertThat(stats.select("clip_id").distinct().count()).isEqualTo(clips);
        assertThat(spark.read().parquet(out + "stats/layer_steps").count()).as("run %d: layer rows", run)
                .isEqualTo((long) clips * STEPS * LAYERS);
    }
}
