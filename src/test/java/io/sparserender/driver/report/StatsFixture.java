package io.sparserender.driver.report;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

/**
 * Synthetic statistics tables with known values (dyadic fractions, so means are exact), in the layout the
 * generate job writes: two nights in range (runs n1, n2 and n3, whose clips all failed) and one night
 * before it (run old) whose Parquet files are corrupt, so reading them fails.
 */
final class StatsFixture {
    static final String CLIP_A = "a".repeat(32);
    static final String CLIP_B = "b".repeat(32);
    static final String CLIP_C = "c".repeat(32);
    static final String EVIL_PROMPT = "<script>alert('x')</script> & \"a boat\"";

    private StatsFixture() {}

    static Path write(SparkSession spark, Path root) throws Exception {
        List<Row> clips = new ArrayList<>();
        clips.add(clip(CLIP_A, "a red kite", "sparse", 0.625, 0.5, Map.of("text", 1.0, "dit", 4.0, "vae", 2.0, "total", 7.25), 30.0,
                0.9, "2026-11-01", "n1"));
        // B is a dense clip compared with its dense reference: identical, infinite PSNR
        clips.add(clip(CLIP_B, "a red kite", "dense", 0.0, 0.0, Map.of("text", 1.0, "dit", 8.0, "vae", 2.0),
                Double.POSITIVE_INFINITY, 1.0, "2026-11-01", "n1"));
        clips.add(clip(CLIP_C, EVIL_PROMPT, "sparse", 0.875, 0.75, Map.of("dit", 3.0, "attention", 1.0, "vae", 0.5), null, null,
                "2026-11-02", "n2"));
        List<Row> ls = new ArrayList<>();
        // clip A: step, layer, tile sparsity, compute saved, recall mean, recall p05, rel L2
        ls.add(ls(CLIP_A, "sparse", 0, 0, 0.5, 0.375, 0.875, 0.75, 0.125, "2026-11-01", "n1"));
        ls.add(ls(CLIP_A, "sparse", 0, 1, 0.625, 0.5, 0.8125, 0.6875, 0.25, "2026-11-01", "n1"));
        ls.add(ls(CLIP_A, "sparse", 1, 0, 0.75, 0.625, null, null, null, "2026-11-01", "n1"));
        ls.add(ls(CLIP_A, "sparse", 1, 1, 0.625, 0.5, 0.9375, 0.875, 0.0625, "2026-11-01", "n1"));
        for (int step = 0; step < 2; step++) {
            for (int layer = 0; layer < 2; layer++) {
                ls.add(ls(CLIP_B, "dense", step, layer, 0.0, 0.0, null, null, null, "2026-11-01", "n1"));
            }
        }
        ls.add(ls(CLIP_C, "sparse", 0, 0, 0.75, 0.625, 0.5, 0.25, 0.5, "2026-11-02", "n2"));
        ls.add(ls(CLIP_C, "sparse", 0, 1, 0.875, 0.75, 0.625, 0.5, 0.375, "2026-11-02", "n2"));
        ls.add(ls(CLIP_C, "sparse", 1, 0, 1.0, 0.875, 0.75, 0.625, 0.25, "2026-11-02", "n2"));
        ls.add(ls(CLIP_C, "sparse", 1, 1, 0.875, 0.75, null, null, null, "2026-11-02", "n2"));

        spark.createDataFrame(clips, StatsReader.CLIPS).write().mode(SaveMode.Overwrite).partitionBy("dt", "run_id")
                .parquet(root.resolve("stats/clips").toUri().toString());
        spark.createDataFrame(ls, StatsReader.LAYER_STEPS).write().mode(SaveMode.Overwrite).partitionBy("dt", "run_id")
                .parquet(root.resolve("stats/layer_steps").toUri().toString());
        for (String table : List.of("clips", "layer_steps")) {
            Path old = root.resolve("stats/" + table + "/dt=2026-10-15/run_id=old");
            Files.createDirectories(old);
            Files.writeString(old.resolve("part-00000-corrupt.snappy.parquet"), "not parquet at all");
        }
        manifest(root, "n1", "2026-11-01", "2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z", 3, 2, 1,
                "[\"dddd: NaN in latents <b>bold</b>\"]");
        manifest(root, "n2", "2026-11-02", "2026-11-02T01:00:00Z", "2026-11-02T01:15:00Z", 1, 1, 0, "[]");
        manifest(root, "n3", "2026-11-02", "2026-11-02T03:00:00Z", "2026-11-02T03:10:00Z", 2, 0, 2,
                "[\"e1: out of memory\", \"e2: out of memory\"]");
        manifest(root, "old", "2026-10-15", "2026-10-15T01:00:00Z", "2026-10-15T02:00:00Z", 5, 5, 0, "[]");
        return root;
    }

    private static Row clip(String id, String prompt, String policy, double ts, double cs, Map<String, Double> stages,
                            Double psnr, Double ssim, String dt, String run) {
        boolean identical = psnr != null && psnr == Double.POSITIVE_INFINITY;
        return RowFactory.create(id, prompt, "wan-tiny", policy, 1L, 64, 32, 5, 2, ts, cs, 1000L,
                new java.util.TreeMap<>(stages), "stand-in", id + ".mp4", 100L,
                "2026-11-01T01:30:00Z", psnr, ssim, psnr == null ? null : identical ? 0.0 : 0.0625,
                psnr == null ? null : identical ? 12.0 : 12.5, psnr == null ? null : 12.0,
                psnr == null ? null : "clips/" + id + ".reference.mp4", dt, run);
    }

    private static Row ls(String id, String policy, int step, int layer, double ts, double cs, Double rm, Double rp,
                          Double l2, String dt, String run) {
        return RowFactory.create(id, "wan-tiny", policy, step, layer, ts, cs, rm, rp, l2, dt, run);
    }

    private static void manifest(Path root, String run, String dt, String started, String finished, int clips,
                                 int rendered, int failed, String failures) throws Exception {
        Files.createDirectories(root.resolve("runs"));
        Files.writeString(root.resolve("runs/" + run + ".json"), String.format("{\"run_id\":\"%s\",\"dt\":\"%s\","
                + "\"started\":\"%s\",\"finished\":\"%s\",\"model\":\"wan-tiny\",\"backend\":\"cpu\",\"counts\":{"
                + "\"rows\":%d,\"rejected\":0,\"clips\":%d,\"already_done\":0,\"rendered\":%d,\"failed\":%d},"
                + "\"failures\":%s}", run, dt, started, finished, clips, clips, rendered, failed, failures),
                StandardCharsets.UTF_8);
    }
}
