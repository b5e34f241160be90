package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.executor.WanRendererFactory;
import io.sparserender.driver.prompts.ClipDefaults;
import io.sparserender.driver.prompts.PolicyCanonicalizer;
import io.sparserender.engine.pipeline.ModelRepo;
import io.sparserender.engine.video.Mp4Reader;
import io.sparserender.testing.LocalClusterSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generate run with two executor JVMs (Spark local-cluster), including the loss of one executor. */
class PipelineLocalClusterIT {
    private SparkSession spark;

    @TempDir
    Path dir;

    /** A cluster per test: like a real application, each run gets executors of its own (one model each). */
    @BeforeEach
    void startCluster() throws Exception {
        spark = LocalClusterSpark.start(2, Map.of());
    }

    @AfterEach
    void stopCluster() {
        spark.stop();
    }

    private Path prompts(int n) throws Exception {
        Path p = dir.resolve("prompts.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lines.add("{\"id\":\"c" + i + "\",\"prompt\":\"clip number " + i + "\",\"seed\":" + i + "}");
        }
        lines.add("{\"prompt\":\"\"}");
        Files.write(p, lines);
        return p;
    }

    @Test
    void executorsRenderRealClipsWithTheTinyModel() throws Exception {
        Path cache = dir.resolve("models");
        ModelRepo repo = ModelRepo.resolve("wan-tiny", cache);
        ClipDefaults defaults = new ClipDefaults("wan-tiny", repo.revision(), 16, "", 0, 64, 32, 5, 2, 5.0,
                Double.NaN, 5.0, "dense");
        RendererSettings renderer = new RendererSettings(WanRendererFactory.class.getName(), "cpu", "wan-tiny",
                Map.of("model_cache", cache.toString()));
        String out = dir.toUri() + "out/";
        GenerateRun.Summary s = new GenerateRun(spark, new GenerateOptions(prompts(2).toString(), null, out, "real",
                0, 0.0, defaults, PolicyCanonicalizer.ENGINE, renderer, c -> 1.0, 1.0)).run();
        assertThat(s.rendered()).isEqualTo(2);
        assertThat(s.rejected()).isEqualTo(1);
        try (Stream<Path> files = Files.list(dir.resolve("out/clips"))) {
            List<Path> videos = files.filter(p -> p.toString().endsWith(".mp4")).toList();
            assertThat(videos).hasSize(2);
            for (Path v : videos) {
                Mp4Reader.Video video = Mp4Reader.read(v);
                assertThat(video.frames()).hasSize(5);
                assertThat(video.width()).isEqualTo(64);
            }
        }
        assertThat(spark.read().parquet(out + "stats/clips").select("device").distinct().count()).isEqualTo(1);
        assertThat(spark.read().parquet(out + "stats/layer_steps").count()).isEqualTo(2 * 2 * 2);
    }

    @Test
    void killingAnExecutorMidRunLosesAndDuplicatesNothing() throws Exception {
        int clips = 12;
        ClipDefaults defaults = new ClipDefaults("stand-in", "r", 16, "", 0, 64, 32, 5, 3, 5.0, Double.NaN, 5.0, "dense");
        RendererSettings renderer = new RendererSettings(StandInRendererFactory.class.getName(), "cpu", "stand-in",
                Map.of("delay_ms", "700"));
        String out = dir.toUri() + "out/";
        Path promptFile = prompts(clips);
        GenerateOptions options = new GenerateOptions(promptFile.toString(), null, out, "night", 0, 0.0, defaults,
                PolicyCanonicalizer.ENGINE, renderer, c -> 1.0, 2.0);
        CompletableFuture<GenerateRun.Summary> run = CompletableFuture.supplyAsync(() -> new GenerateRun(spark, options).run());

        Path clipDir = dir.resolve("out/clips");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (sidecars(clipDir) < 3 && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(sidecars(clipDir)).as("clips done before the kill").isBetween(3L, (long) clips - 1);
        ProcessHandle executor = ProcessHandle.current().descendants()
                .filter(p -> p.info().commandLine().orElse("").contains("CoarseGrainedExecutorBackend"))
                .findFirst().orElseThrow(() -> new AssertionError("no executor process found"));
        assertThat(executor.destroyForcibly()).isTrue();

        GenerateRun.Summary first = run.get(300, TimeUnit.SECONDS);
        assertThat(first.failed()).isZero();
        assertThat(sidecars(clipDir)).isEqualTo(clips);
        assertEveryVisibleClipComplete(clipDir, clips);
        assertThat(first.statsClipRows()).isEqualTo(clips);
        var stats = spark.read().parquet(out + "stats/clips");
        assertThat(stats.count()).isEqualTo(clips);
        assertThat(stats.select("clip_id").distinct().count()).isEqualTo(clips);
        assertThat(spark.read().parquet(out + "stats/layer_steps").count()).isEqualTo(clips * 3 * 2);

        GenerateRun.Summary rerun = new GenerateRun(spark, options).run();
        assertThat(rerun.rendered()).isZero();
        assertThat(rerun.alreadyDone()).isEqualTo(clips);
        assertThat(spark.read().parquet(out + "stats/clips").count()).isEqualTo(clips);
        String manifest = Files.readString(dir.resolve("out/runs/night.json"));
        assertThat(new ObjectMapper().readTree(manifest).get("counts").get("rendered").asInt()).isZero();
    }

    private static long sidecars(Path clipDir) throws Exception {
        if (!Files.isDirectory(clipDir)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(clipDir)) {
            return s.filter(p -> p.getFileName().toString().matches("[0-9a-f]{32}\\.json")).count();
        }
    }

    /** Every visible file is a finished clip: an mp4 with its sidecar, the sidecar naming the mp4's exact size. */
    private static void assertEveryVisibleClipComplete(Path clipDir, int clips) throws Exception {
        ObjectMapper json = new ObjectMapper();
        try (Stream<Path> s = Files.list(clipDir)) {
            List<Path> visible = s.filter(p -> !p.getFileName().toString().startsWith(".")).toList();
            assertThat(visible).hasSize(2 * clips);
            for (Path p : visible) {
                if (p.toString().endsWith(".json")) {
                    Path mp4 = Path.of(p.toString().replace(".json", ".mp4"));
                    assertThat(json.readTree(p.toFile()).get("video_bytes").asLong()).isEqualTo(Files.size(mp4));
                }
            }
        }
    }
}
