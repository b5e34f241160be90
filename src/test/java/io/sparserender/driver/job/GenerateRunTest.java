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
        return new GenerateOptions(prompts.toString(), null, out, runId, 0, 0.0, DEFAULTS, DENSE_ONLY,
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
}
