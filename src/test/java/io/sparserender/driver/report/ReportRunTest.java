package io.sparserender.driver.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.sparserender.testing.LocalSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The aggregates over synthetic statistics tables with known values, checked value by value. */
class ReportRunTest {
    @TempDir
    Path dir;

    private ReportRun.Summary report(LocalDate from, LocalDate to, List<String> runs) throws Exception {
        SparkSession spark = LocalSpark.get();
        StatsFixture.write(spark, dir.resolve("stats"));
        return new ReportRun(spark, new ReportOptions(dir.resolve("stats").toUri().toString(), from, to, runs,
                dir.resolve("report").toUri().toString())).run();
    }

    private static Map<String, Row> byKey(String table, Path dir, Function<Row, String> key) {
        return LocalSpark.get().read().parquet(dir.resolve("report/aggregates/" + table).toUri().toString())
                .collectAsList().stream().collect(Collectors.toMap(key, r -> r));
    }

    private static double d(Row r, String c) {
        return ((Number) r.getAs(c)).doubleValue();
    }

    private static long l(Row r, String c) {
        return ((Number) r.getAs(c)).longValue();
    }

    @Test
    void aggregatesTheNightsInRangeExactly() throws Exception {
        ReportRun.Summary s = report(LocalDate.parse("2026-11-01"), LocalDate.parse("2026-11-30"), List.of());
        assertThat(s.partitions()).isEqualTo(2); // n1 and n2; n3 wrote no statistics, old is out of range
        assertThat(s.clips()).isEqualTo(3);
        assertThat(s.tables()).containsOnlyKeys(ReportRun.TABLES);

        Map<String, Row> ls = byKey("layer_steps", dir, r -> r.getAs("policy") + "/" + r.getAs("layer") + "/" + r.getAs("step"));
        assertThat(ls).hasSize(8);
        Row l0s0 = ls.get("sparse/0/0");
        assertThat(l(l0s0, "clips")).isEqualTo(2);
        assertThat(d(l0s0, "tile_sparsity")).isEqualTo(0.625);
        assertThat(d(l0s0, "compute_saved")).isEqualTo(0.5);
        assertThat(l(l0s0, "sampled")).isEqualTo(2);
        assertThat(d(l0s0, "recall_mean")).isEqualTo(0.6875);
        assertThat(d(l0s0, "recall_p05")).isEqualTo(0.5);
        assertThat(d(l0s0, "recall_p05_min")).isEqualTo(0.25);
        assertThat(d(l0s0, "rel_l2_mean")).isEqualTo(0.3125);
        assertThat(d(l0s0, "rel_l2_max")).isEqualTo(0.5);
        Row l1s1 = ls.get("sparse/1/1");
        assertThat(d(l1s1, "tile_sparsity")).isEqualTo(0.75);
        assertThat(l(l1s1, "sampled")).isEqualTo(1);
        assertThat(d(l1s1, "recall_mean")).isEqualTo(0.9375);
        assertThat(d(l1s1, "rel_l2_max")).isEqualTo(0.0625);
        assertThat(d(ls.get("sparse/0/1"), "tile_sparsity")).isEqualTo(0.875); // layer 0, step 1: 0.75 and 1.0
        Row dense = ls.get("dense/1/0");
        assertThat(l(dense, "sampled")).isZero();
        assertThat(dense.<Object>getAs("recall_mean")).isNull();

        Map<String, Row> clips = byKey("clips", dir, r -> r.getAs("clip_id"));
        assertThat(clips).containsOnlyKeys(StatsFixture.CLIP_A, StatsFixture.CLIP_B, StatsFixture.CLIP_C);
        Row a = clips.get(StatsFixture.CLIP_A);
        assertThat(d(a, "total_seconds")).isEqualTo(7.25); // its "total" stage

        assertThat(l(a, "sampled_layer_steps")).isEqualTo(3);
        assertThat(d(a, "recall_mean")).isEqualTo(0.875);
        assertThat(d(a, "recall_p05")).isEqualTo(0.6875);
        assertThat(d(a, "rel_l2_mean")).isCloseTo(0.4375 / 3, within(1e-15));
        assertThat(d(a, "rel_l2_max")).isEqualTo(0.25);
        assertThat(d(a, "psnr")).isEqualTo(30.0);
        assertThat(d(a, "ssim")).isEqualTo(0.9);
        assertThat(d(a, "latent_rel_l2")).isEqualTo(0.0625);
        assertThat(d(a, "flicker")).isEqualTo(12.5);
        assertThat(d(a, "flicker_reference")).isEqualTo(12.0);
        assertThat(a.<String>getAs("reference_video")).isEqualTo("clips/" + StatsFixture.CLIP_A + ".reference.mp4");
        Row c = clips.get(StatsFixture.CLIP_C);
        assertThat(c.<String>getAs("prompt")).isEqualTo(StatsFixture.EVIL_PROMPT);
        assertThat(d(c, "total_seconds")).isEqualTo(3.5); // dit + vae: attention is inside dit
        assertThat(d(c, "recall_mean")).isEqualTo(0.625);
        assertThat(d(c, "rel_l2_mean")).isEqualTo(0.375);
        Row b = clips.get(StatsFixture.CLIP_B);
        assertThat(l(b, "sampled_layer_steps")).isZero();
        assertThat(b.<Object>getAs("recall_mean")).isNull();
        assertThat(d(b, "psnr")).isEqualTo(Double.POSITIVE_INFINITY); // +∞ survives Parquet and the aggregate
        assertThat(d(b, "ssim")).isEqualTo(1.0);
        assertThat(c.<Object>getAs("psnr")).isNull();
        assertThat(c.<Object>getAs("flicker")).isNull();

        Map<String, Row> runs = byKey("runs", dir, r -> r.getAs("run_id"));
        assertThat(runs).containsOnlyKeys("n1", "n2", "n3");
        Row n1 = runs.get("n1");
        assertThat(l(n1, "rendered")).isEqualTo(2);
        assertThat(l(n1, "failed")).isEqualTo(1);
        assertThat(l(n1, "failure_count")).isEqualTo(1);
        assertThat(l(n1, "stats_clips")).isEqualTo(2);
        assertThat(d(n1, "gpu_hours") * 3600).isCloseTo(18.25, within(1e-12)); // 7.25 + 11
        assertThat(d(n1, "tile_sparsity")).isEqualTo(0.3125);
        assertThat(d(n1, "compute_saved")).isEqualTo(0.25);
        assertThat(d(n1, "recall_mean")).isEqualTo(0.875);
        assertThat(d(n1, "wall_seconds")).isEqualTo(3600.0);
        assertThat(d(n1, "clips_per_hour")).isEqualTo(2.0);
        assertThat(d(runs.get("n2"), "clips_per_hour")).isEqualTo(4.0);
        Row n3 = runs.get("n3");
        assertThat(l(n3, "stats_clips")).isZero();
        assertThat(l(n3, "failed")).isEqualTo(2);
        assertThat(d(n3, "gpu_hours")).isZero();
        assertThat(n3.<Object>getAs("tile_sparsity")).isNull();
        assertThat(n3.getList(n3.fieldIndex("failures"))).containsExactly("e1: out of memory", "e2: out of memory");

        Map<String, Row> stages = byKey("stages", dir, r -> r.getAs("run_id") + "/" + r.getAs("stage"));
        assertThat(stages).containsOnlyKeys("n1/text", "n1/dit", "n1/vae", "n1/total", "n2/dit", "n2/attention",
                "n2/vae");
        assertThat(l(stages.get("n1/dit"), "clips")).isEqualTo(2);
        assertThat(d(stages.get("n1/dit"), "seconds")).isEqualTo(12.0);
        assertThat(d(stages.get("n1/dit"), "mean_seconds")).isEqualTo(6.0);
        assertThat(d(stages.get("n2/vae"), "seconds")).isEqualTo(0.5);

        Map<String, Row> hist = byKey("recall_histogram", dir, r -> r.getAs("policy") + "/" + r.getAs("bin"));
        // recall values 0.875 0.8125 0.9375 (A), 0.5 0.625 0.75 (C), twenty bins
        assertThat(hist).containsOnlyKeys("sparse/17", "sparse/16", "sparse/18", "sparse/10", "sparse/12", "sparse/15");
        assertThat(hist.values()).allSatisfy(r -> assertThat(l(r, "count")).isEqualTo(1));
        assertThat(d(hist.get("sparse/17"), "bin_lo")).isEqualTo(0.85);
        assertThat(d(hist.get("sparse/17"), "bin_hi")).isEqualTo(0.9);

        Map<String, Row> trends = byKey("trends", dir, r -> r.getAs("dt"));
        assertThat(trends).containsOnlyKeys("2026-11-01", "2026-11-02");
        Row nov2 = trends.get("2026-11-02");
        assertThat(l(nov2, "runs")).isEqualTo(2);
        assertThat(l(nov2, "rendered")).isEqualTo(1);
        assertThat(l(nov2, "failed")).isEqualTo(2);
        assertThat(d(nov2, "clips_per_hour")).isCloseTo(2.4, within(1e-12)); // 1 clip in 900 + 600 s
        assertThat(d(nov2, "tile_sparsity")).isEqualTo(0.875);
        assertThat(d(trends.get("2026-11-01"), "recall_mean")).isEqualTo(0.875);

        assertThat(dir.resolve("report/report.html")).exists();
        String html = Files.readString(dir.resolve("report/report.html"));
        assertThat(html).contains("data-chart=\"scatter\"", "data-chart=\"scatter-ssim\"",
                "1 of 2 reference clips are identical to their dense render");
        try (var files = Files.list(dir.resolve("report"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("aggregates", "report.html");
        }
    }

    @Test
    void readsOnlyThePartitionsInRange() throws Exception {
        // Unbounded, the corrupt night of 2026-10-15 is read and fails the job: the bounded report above
        // succeeding proves its files were never opened.
        assertThatThrownBy(() -> report(null, null, List.of()))
                .satisfies(e -> assertThat(chain(e)).contains("run_id=old"));
    }

    @Test
    void readsAMonthOutOfMonthsOfNightlyPartitions() throws Exception {
        SparkSession spark = LocalSpark.get();
        Path root = dir.resolve("nightly");
        java.util.List<Row> clips = new java.util.ArrayList<>();
        java.util.List<Row> ls = new java.util.ArrayList<>();
        LocalDate first = LocalDate.parse("2026-06-01");
        for (int n = 0; n < 120; n++) {
            String day = first.plusDays(n).toString();
            String id = String.format("%032x", n);
            double sparsity = (n % 4) / 4.0;
            clips.add(org.apache.spark.sql.RowFactory.create(id, "night " + n, "wan-tiny", "sparse", 1L, 64, 32, 5, 1,
                    sparsity, sparsity, 0L, Map.of("total", 2.0), "cpu", id + ".mp4", 1L, day, null, null, null, null, null, null, day,
                    "r" + n));
            ls.add(org.apache.spark.sql.RowFactory.create(id, "wan-tiny", "sparse", 0, 0, sparsity, sparsity, 0.5,
                    0.25, 0.125, day, "r" + n));
        }
        spark.createDataFrame(clips, StatsReader.CLIPS).write().partitionBy("dt", "run_id")
                .parquet(root.resolve("stats/clips").toUri().toString());
        spark.createDataFrame(ls, StatsReader.LAYER_STEPS).write().partitionBy("dt", "run_id")
                .parquet(root.resolve("stats/layer_steps").toUri().toString());

        ReportRun.Summary s = new ReportRun(spark, new ReportOptions(root.toUri().toString(),
                LocalDate.parse("2026-07-01"), LocalDate.parse("2026-07-31"), List.of(),
                dir.resolve("report").toUri().toString())).run();
        assertThat(s.partitions()).isEqualTo(31);
        assertThat(s.clips()).isEqualTo(31);
        Map<String, Row> trends = byKey("trends", dir, r -> r.getAs("dt"));
        assertThat(trends).hasSize(31).containsKeys("2026-07-01", "2026-07-31");
        // night n has sparsity (n % 4) / 4; July 1st is night 30
        assertThat(d(trends.get("2026-07-01"), "tile_sparsity")).isEqualTo(0.5);
        assertThat(d(trends.get("2026-07-02"), "tile_sparsity")).isEqualTo(0.75);
        Row cell = byKey("layer_steps", dir, r -> r.getAs("policy")).get("sparse");
        assertThat(l(cell, "clips")).isEqualTo(31);
        // 31 nights from night 30: sparsities 0.5, 0.75, 0, 0.25 repeating, 8 + 8 + 8 + 7 of them
        assertThat(d(cell, "tile_sparsity")).isCloseTo((8 * 0.5 + 8 * 0.75 + 8 * 0 + 7 * 0.25) / 31, within(1e-12));
    }

    @Test
    void selectsRunsById() throws Exception {
        ReportRun.Summary s = report(null, null, List.of("n2"));
        assertThat(s.partitions()).isEqualTo(1);
        assertThat(byKey("runs", dir, r -> r.getAs("run_id"))).containsOnlyKeys("n2");
        assertThat(byKey("clips", dir, r -> r.getAs("clip_id"))).containsOnlyKeys(StatsFixture.CLIP_C);
    }

    @Test
    void aRunWhoseClipsAllFailedIsReportedFromItsManifest() throws Exception {
        ReportRun.Summary s = report(null, null, List.of("n3"));
        assertThat(s.partitions()).isZero();
        assertThat(s.clips()).isZero();
        Row n3 = byKey("runs", dir, r -> r.getAs("run_id")).get("n3");
        assertThat(l(n3, "failed")).isEqualTo(2);
        assertThat(l(n3, "stats_clips")).isZero();
        assertThat(Files.readString(dir.resolve("report/report.html"))).contains("e1: out of memory",
                "No layer × step statistics in range.");
    }

    @Test
    void emptyRangeAndMissingTablesNameThePath() throws Exception {
        assertThatThrownBy(() -> report(LocalDate.parse("2027-01-01"), null, List.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("stats/clips has no partitions in range (2027-01-01 .. last)");
        SparkSession spark = LocalSpark.get();
        String nowhere = dir.resolve("nothing").toUri().toString();
        assertThatThrownBy(() -> new ReportRun(spark, new ReportOptions(nowhere, null, null, List.of(),
                dir.resolve("r").toUri().toString())).run())
                .hasMessageStartingWith("Cannot report: no statistics table at file:")
                .hasMessageEndingWith("/nothing/stats/clips (--stats must be the --out of generate runs)");
    }

    static String chain(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            b.append(t).append('\n');
        }
        return b.toString();
    }
}
