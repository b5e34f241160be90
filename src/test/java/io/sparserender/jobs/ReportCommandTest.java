package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.testing.LocalSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** report end to end over a real tiny-model generate run: the aggregates agree with the clip's sidecar. */
class ReportCommandTest {
    @TempDir
    Path dir;

    @AfterEach
    void stopEngine() {
        ExecutorEngine.shutdown();
    }

    @Test
    void reportsARealGenerateRun() throws Exception {
        String prompt = "a <script>alert(1)</script> boat & \"sails\"";
        CliTest.Result gen = CliTest.run("generate", "--model", "wan-tiny", "--model-cache",
                dir.resolve("cache").toString(), "--out", dir.resolve("out").toString(), "--size", "64x32",
                "--frames", "5", "--steps", "2", "--run-id", "t1", "--prompt", prompt);
        assertThat(gen.code()).as(gen.err()).isZero();
        CliTest.Result rep = CliTest.run("report", "--stats", dir.resolve("out").toString(), "--runs", "t1",
                "--out", dir.resolve("report").toString());
        assertThat(rep.code()).as(rep.err()).isZero();
        assertThat(rep.out()).startsWith("report: 1 clips, ").contains("1 runs from 1 partitions",
                "aggregate layer_steps: ", "html: ");

        JsonNode sidecar;
        try (Stream<Path> s = Files.list(dir.resolve("out/clips"))) {
            Path json = s.filter(p -> p.toString().endsWith(".json")).findFirst().orElseThrow();
            sidecar = new ObjectMapper().readTree(json.toFile());
        }
        double stageTotal = sidecar.get("stage_seconds").get("total").asDouble(); // the renderer's own total
        String agg = dir.resolve("report/aggregates/").toUri().toString();
        List<Row> clips = LocalSpark.get().read().parquet(agg + "clips").collectAsList();
        assertThat(clips).hasSize(1);
        Row c = clips.get(0);
        assertThat(c.<String>getAs("clip_id")).isEqualTo(sidecar.get("clip_id").asText());
        assertThat(c.<String>getAs("prompt")).isEqualTo(prompt);
        assertThat(c.<Double>getAs("tile_sparsity")).isEqualTo(sidecar.get("tile_sparsity").asDouble());
        assertThat(c.<Double>getAs("total_seconds")).isEqualTo(stageTotal);
        assertThat(c.<Object>getAs("psnr")).isNull(); // not sampled: no --reference-fraction

        int attention = sidecar.get("attention").size();
        assertThat(attention).isGreaterThan(0);
        assertThat(LocalSpark.get().read().parquet(agg + "layer_steps").count()).isEqualTo(attention);
        Row run = LocalSpark.get().read().parquet(agg + "runs").first();
        assertThat(run.<String>getAs("run_id")).isEqualTo("t1");
        assertThat(run.<Long>getAs("rendered")).isEqualTo(1L);
        assertThat(run.<Long>getAs("failed")).isZero();
        assertThat(run.<Double>getAs("gpu_hours") * 3600).isCloseTo(stageTotal, org.assertj.core.api.Assertions.within(1e-9));

        String html = Files.readString(dir.resolve("report/report.html"));
        assertThat(html).doesNotContain("<script").contains("a &lt;script&gt;alert(1)&lt;/script&gt; boat &amp; &quot;sails&quot;")
                .contains("No reference clips in range");
    }

    @Test
    void badFlagsAreUsageErrorsNamingTheFlag() {
        CliTest.Result date = CliTest.run("report", "--stats", "x", "--out", "y", "--from", "2026-13-01");
        assertThat(date.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(date.err()).startsWith("sparse-render report: Invalid --from '2026-13-01': use YYYY-MM-DD");
        CliTest.Result order = CliTest.run("report", "--stats", "x", "--out", "y", "--from", "2026-02-01", "--to", "2026-01-01");
        assertThat(order.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(order.err()).startsWith("sparse-render report: Invalid --from 2026-02-01: it is after --to 2026-01-01");
        CliTest.Result runs = CliTest.run("report", "--stats", "x", "--out", "y", "--runs", ",");
        assertThat(runs.err()).startsWith("sparse-render report: Invalid --runs ','");
        assertThat(CliTest.run("report", "--out", "y").code()).isEqualTo(Main.EXIT_USAGE);
        CliTest.Result missing = CliTest.run("report", "--stats", dir.resolve("none").toString(), "--out",
                dir.resolve("r").toString());
        assertThat(missing.code()).isEqualTo(Main.EXIT_FAILURE);
        assertThat(missing.err()).contains("Cannot report: no statistics table at file:")
                .contains("none/stats/clips (--stats must be the --out of generate runs)");
    }
}
