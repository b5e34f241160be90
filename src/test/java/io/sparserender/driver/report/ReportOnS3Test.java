package io.sparserender.driver.report;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.job.GenerateOptions;
import io.sparserender.driver.job.GenerateRun;
import io.sparserender.driver.job.StandInRendererFactory;
import io.sparserender.driver.prompts.ClipDefaults;
import io.sparserender.testing.LocalSpark;
import io.sparserender.testing.S3TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A generate run (stand-in renderer) into an S3-compatible store, then a report from S3 to S3: the
 * aggregates count what the run rendered and the HTML lands as one object.
 */
class ReportOnS3Test {
    @TempDir
    Path dir;

    @AfterEach
    void stopEngine() {
        ExecutorEngine.shutdown();
    }

    @Test
    void reportsFromAndToS3a() throws Exception {
        Path prompts = dir.resolve("p.jsonl");
        Files.writeString(prompts, "{\"prompt\":\"a cat\"}\n{\"prompt\":\"a dog\",\"frames\":9}\n{\"prompt\":\"FAIL\"}\n",
                StandardCharsets.UTF_8);
        try (S3TestServer s3 = new S3TestServer()) {
            String bucket = s3.uniqueBucket("reports");
            SparkSession spark = LocalSpark.get();
            var hc = spark.sparkContext().hadoopConfiguration();
            s3.hadoopConf().forEach(e -> hc.set(e.getKey(), e.getValue()));
            String out = "s3a://" + bucket + "/nightly/";
            ClipDefaults defaults = new ClipDefaults("wan-tiny", "seed-0", 32, "", 1, 64, 64, 5, 3, 5.0, Double.NaN,
                    5.0, "dense");
            GenerateRun.Summary g = new GenerateRun(spark, new GenerateOptions(prompts.toString(), null, out, "s1", 0,
                    0.0, defaults, s -> s, new RendererSettings(StandInRendererFactory.class.getName(), "cpu", "wan-tiny",
                    Map.of()), c -> c.frames() * c.steps(), 10)).run();
            assertThat(g.rendered()).isEqualTo(2);

            ReportRun.Summary r = new ReportRun(spark, new ReportOptions(out, null, null, List.of(),
                    "s3a://" + bucket + "/report/")).run();
            assertThat(r.clips()).isEqualTo(2);
            // stand-in: 3 steps x 2 layers, tile sparsity 0.5 and compute saved 0.4 everywhere, one failure
            assertThat(r.layerSteps()).isEqualTo(6);
            Row run = spark.read().parquet("s3a://" + bucket + "/report/aggregates/runs").first();
            assertThat(run.<Long>getAs("rendered")).isEqualTo(2L);
            assertThat(run.<Long>getAs("failed")).isEqualTo(1L);
            assertThat(run.<Double>getAs("tile_sparsity")).isEqualTo(0.5);
            assertThat(run.<Double>getAs("compute_saved")).isCloseTo(0.4, org.assertj.core.api.Assertions.within(1e-12));
            assertThat(run.<Long>getAs("stats_clips")).isEqualTo(2L);
            try (var client = s3.client()) {
                var html = client.getObjectAsBytes(b -> b.bucket(bucket).key("report/report.html")).asUtf8String();
                assertThat(html).startsWith("<!DOCTYPE html>").contains("stand-in failure");
            }
        }
    }
}
