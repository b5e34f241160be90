package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.prompts.ClipDefaults;
import io.sparserender.driver.prompts.PolicyCanonicalizer;
import io.sparserender.testing.LocalSpark;
import io.sparserender.testing.S3TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pipeline's own rules, with a stand-in renderer in place of the model. */
class GenerateRunTest {
    @TempDir
    Path dir;

    static final ClipDefaults DEFAULTS = new ClipDefaults("wan-tiny", "seed-0", 32, "", 1, 64, 64, 5, 3, 5.0,
            Double.NaN, 5.0, "dense");
    static final PolicyCanonicalizer DENSE_ONLY = s -> {
        if (!s.equals("dense")) {
            throw new IllegalArgumentException("unknown policy '" + s + "'");
        }
        return s;
    };

    @AfterEach
    void stopEngine() {
        ExecutorEngine.shutdown();
    }

    private GenerateOptions options(Path prompts, String out, String runId) {
        return options(prompts, out, runId, 0);
    }

    private GenerateOptions options(Path prompts, String out, String runId, double referenceFraction) {
        return new GenerateOptions(prompts.toString(), null, out, runId, 0, referenceFraction, DEFAULTS, DENSE_ONLY,
                new RendererSettings(StandInRendererFactory.class.getName(), "cpu", "wan-tiny", Map.of()),
                c -> c.frames() * c.steps(), 10);
    }

    private Path prompts() throws Exception {
        Path p = dir.resolve("prompts.jsonl");
        Files.writeString(p, String.join("\n",
                "{\"id\":\"a\",\"prompt\":\"a cat\"}",
                "{\"id\":\"b\",\"prompt\":\"a dog\",\"frames\":9}",
                "{\"id\":\"c\",\"prompt\":\"a cat\"}",
                "{\"id\":\"a\",\"prompt\":\"an owl\"}",
                "{\"prompt\":\"bad\",\"frames\":4}",
                "{\"prompt\":\"FAIL here\"}",
                "{\"prompt\":\"a fox\",\"seed\":3}",
                "not json"));
        return p;
    }

    @Test
    void rendersEachClipOnceAndARerunDoesNoWork() throws Exception {
        SparkSession spark = LocalSpark.get();
        String out = dir.toUri() + "out/";
        StandInRendererFactory.RENDERS.set(0);
        GenerateRun.Summary first = new GenerateRun(spark, options(prompts(), out, "night-1")).run();
        assertThat(first.rows()).isEqualTo(8);
        assertThat(first.rejected()).isEqualTo(3); // frames 4, duplicate id 'a', not json
        assertThat(first.duplicateRows()).isEqualTo(1); // 'c' is the same clip as 'a'
        assertThat(first.clips()).isEqualTo(4);
        assertThat(first.rendered()).isEqualTo(3);
        assertThat(first.failed()).isEqualTo(1);
        assertThat(first.failures()).singleElement().asString().contains("NaN in latents at step 1, layer 0");
        assertThat(first.statsClipRows()).isEqualTo(3);
        assertThat(first.statsLayerStepRows()).isEqualTo(3 * 3 * 2);
        assertThat(StandInRendererFactory.RENDERS.get()).isEqualTo(3);

        try (var files = Files.list(dir.resolve("out/clips"))) {
            assertThat(files.map(f -> f.getFileName().toString()).filter(n -> !n.endsWith(".crc")))
                    .hasSize(6).allMatch(n -> n.matches("[0-9a-f]{32}\\.(mp4|json)"));
        }
        assertThat(spark.read().parquet(out + "rejected").where("run_id = 'night-1'").count()).isEqualTo(3);
        assertThat(spark.read().parquet(out + "rejected").where("reason like 'duplicate id%'").count()).isEqualTo(1);

        // Same run again (a resume): no model work, stats rewritten, not duplicated.
        GenerateRun.Summary again = new GenerateRun(spark, options(prompts(), out, "night-1")).run();
        assertThat(again.alreadyDone()).isEqualTo(3);
        assertThat(again.rendered()).isZero();
        assertThat(StandInRendererFactory.RENDERS.get()).isEqualTo(3);
        assertThat(spark.read().parquet(out + "stats/clips").count()).isEqualTo(3);
        assertThat(spark.read().parquet(out + "stats/layer_steps").count()).isEqualTo(18);
        assertThat(spark.read().parquet(out + "rejected").count()).isEqualTo(3);
        String manifest = Files.readString(dir.resolve("out/runs/night-1.json"));
        assertThat(manifest).contains("\"already_done\" : 3", "\"rendered\" : 0");

        // A new run over finished output: nothing rendered, no stats rows of its own.
        GenerateRun.Summary other = new GenerateRun(spark, options(prompts(), out, "night-2")).run();
        assertThat(other.rendered()).isZero();
        assertThat(other.statsClipRows()).isZero();
        assertThat(spark.read().parquet(out + "stats/clips").count()).isEqualTo(3);
    }

    @Test
    void writesToS3ThroughS3a() throws Exception {
        try (S3TestServer s3 = new S3TestServer()) {
            String bucket = s3.uniqueBucket("renders");
            SparkSession spark = LocalSpark.get();
            var hc = spark.sparkContext().hadoopConfiguration();
            s3.hadoopConf().forEach(e -> hc.set(e.getKey(), e.getValue()));
            GenerateRun.Summary s = new GenerateRun(spark, options(prompts(), "s3a://" + bucket + "/nightly/", "r1")).run();
            assertThat(s.rendered()).isEqualTo(3);
            try (var client = s3.client()) {
                var keys = client.listObjectsV2(b -> b.bucket(bucket).prefix("nightly/clips/")).contents();
                assertThat(keys).hasSize(6);
                assertThat(client.listObjectsV2(b -> b.bucket(bucket).prefix("nightly/runs/")).contents())
                        .singleElement().extracting(o -> o.key()).isEqualTo("nightly/runs/r1.json");
                // No output (videos, sidecars, manifest, Parquet tables) carries the S3 credentials.
                for (var o : client.listObjectsV2(b -> b.bucket(bucket)).contents()) {
                    String body = client.getObjectAsBytes(b -> b.bucket(bucket).key(o.key())).asString(
                            java.nio.charset.StandardCharsets.ISO_8859_1);
                    assertThat(body).as(o.key()).doesNotContain(S3TestServer.SECRET_KEY).doesNotContain(S3TestServer.ACCESS_KEY);
                }
            }
            assertThat(spark.read().parquet("s3a://" + bucket + "/nightly/stats/clips").count()).isEqualTo(3);
        }
    }

    private static java.util.Set<String> sidecarIds(Path clips) throws Exception {
        try (var files = Files.list(clips)) {
            return files.map(f -> f.getFileName().toString()).filter(n -> n.matches("[0-9a-f]{32}\\.json"))
                    .map(n -> n.substring(0, 32)).collect(java.util.stream.Collectors.toSet());
        }
    }

    @Test
    void referenceFractionSamplesTheSameClipsByIdOnEveryRun() throws Exception {
        SparkSession spark = LocalSpark.get();
        Path prompts = dir.resolve("scenes.jsonl");
        StringBuilder rows = new StringBuilder();
        for (int i = 0; i < 12; i++) {
            rows.append("{\"prompt\":\"scene ").append(i).append("\"}\n");
        }
        Files.writeString(prompts, rows);
        StandInRendererFactory.RENDERS.set(0);
        GenerateRun.Summary s = new GenerateRun(spark, options(prompts, dir.toUri() + "half/", "half-1", 0.5)).run();
        assertThat(s.rendered()).isEqualTo(12);
        java.util.Set<String> ids = sidecarIds(dir.resolve("half/clips"));
        assertThat(ids).hasSize(12);
        java.util.Set<String> sampled = new java.util.TreeSet<>();
        ids.stream().filter(id -> ReferenceSampling.sampled(id, 0.5)).forEach(sampled::add);
        assertThat(sampled).isNotEmpty().hasSizeLessThan(12);
        assertThat(s.referenceRenders()).isEqualTo(sampled.size());
        assertThat(StandInRendererFactory.RENDERS.get()).isEqualTo(12 + sampled.size()); // one dense re-render each

        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (String id : ids) {
            var sidecar = json.readTree(dir.resolve("half/clips/" + id + ".json").toFile());
            Path reference = dir.resolve("half/clips/" + id + ".reference.mp4");
            if (sampled.contains(id)) {
                // the stand-in's dense clip against its dense reference: the same frames
                assertThat(sidecar.at("/quality/psnr").asText()).as(id).isEqualTo("Infinity");
                assertThat(sidecar.at("/quality/ssim").asDouble()).isEqualTo(1.0);
                assertThat(sidecar.at("/quality/reference_video").asText()).isEqualTo("clips/" + id + ".reference.mp4");
                assertThat(reference).exists();
                assertThat(sidecar.at("/stage_seconds/reference").isNumber()).isTrue();
            } else {
                assertThat(sidecar.has("quality")).as(id).isFalse();
                assertThat(reference).doesNotExist();
            }
        }
        var stats = spark.read().parquet(dir.toUri() + "half/stats/clips");
        assertThat(stats.where("psnr IS NOT NULL").collectAsList()).extracting(r -> r.<String>getAs("clip_id"))
                .containsExactlyInAnyOrderElementsOf(sampled);
        assertThat(stats.where("psnr IS NOT NULL").collectAsList()).allSatisfy(r -> {
            assertThat(r.<Double>getAs("psnr")).isEqualTo(Double.POSITIVE_INFINITY);
            assertThat(r.<Double>getAs("ssim")).isEqualTo(1.0);
            assertThat(r.<Double>getAs("latent_rel_l2")).isZero();
        });
        assertThat(Files.readString(dir.resolve("half/runs/half-1.json")))
                .contains("\"reference_fraction\" : 0.5", "\"reference_renders\" : " + sampled.size());

        // Another run into another place samples exactly the same clips.
        new GenerateRun(spark, options(prompts, dir.toUri() + "again/", "half-2", 0.5)).run();
        java.util.Set<String> again = new java.util.TreeSet<>();
        for (String id : sidecarIds(dir.resolve("again/clips"))) {
            if (json.readTree(dir.resolve("again/clips/" + id + ".json").toFile()).has("quality")) {
                again.add(id);
            }
        }
        assertThat(again).isEqualTo(sampled);
    }

    @Test
    void fractionZeroRendersNoReferenceAndRemovesAnInterruptedAttemptsOne() throws Exception {
        SparkSession spark = LocalSpark.get();
        Path prompts = dir.resolve("one.jsonl");
        Files.writeString(prompts, "{\"prompt\":\"a heron\"}\n");
        // an attempt that sampled this clip wrote its reference video, then died before the sidecar
        String id = new io.sparserender.engine.pipeline.ClipSpec("a heron", "", 1, 64, 64, 5, 3, 5.0, Double.NaN, 5.0,
                "dense", "wan-tiny", "seed-0").clipId();
        Path leftover = Files.createDirectories(dir.resolve("zero/clips")).resolve(id + ".reference.mp4");
        Files.writeString(leftover, "half a video");
        StandInRendererFactory.RENDERS.set(0);
        GenerateRun.Summary s = new GenerateRun(spark, options(prompts, dir.toUri() + "zero/", "z", 0)).run();
        assertThat(s.rendered()).isEqualTo(1);
        assertThat(s.referenceRenders()).isZero();
        assertThat(StandInRendererFactory.RENDERS.get()).isEqualTo(1);
        assertThat(sidecarIds(dir.resolve("zero/clips"))).containsExactly(id);
        assertThat(leftover).doesNotExist();
        assertThat(Files.readString(dir.resolve("zero/clips/" + id + ".json"))).doesNotContain("\"quality\"");
        assertThat(spark.read().parquet(dir.toUri() + "zero/stats/clips").first().<Object>getAs("psnr")).isNull();
    }
}
