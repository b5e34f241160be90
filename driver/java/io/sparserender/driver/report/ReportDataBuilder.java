package io.sparserender.driver.report;

import static org.apache.spark.sql.functions.col;

import io.sparserender.driver.output.OutputLayout;
import io.sparserender.driver.report.html.ReportData;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/** Collects the (small) aggregate tables into the plain values the HTML report draws. */
final class ReportDataBuilder {
    private ReportDataBuilder() {}

    static ReportData build(Map<String, Dataset<Row>> a, ReportOptions options, OutputLayout stats) {
        Dataset<Row> clips = a.get("clips");
        List<ReportData.HeatCell> heat = new ArrayList<>();
        for (Row r : a.get("layer_steps").collectAsList()) {
            heat.add(new ReportData.HeatCell(s(r, "policy"), s(r, "model"), r.getAs("layer"), r.getAs("step"),
                    d(r, "tile_sparsity")));
        }
        List<ReportData.HistBin> recall = new ArrayList<>();
        for (Row r : a.get("recall_histogram").collectAsList()) {
            recall.add(new ReportData.HistBin(s(r, "policy"), d(r, "bin_lo"), d(r, "bin_hi"), l(r, "count")));
        }
        List<ReportData.ClipPoint> points = new ArrayList<>();
        for (Row r : clips.orderBy("dt", "clip_id").limit(ReportRun.MAX_POINTS).collectAsList()) {
            points.add(new ReportData.ClipPoint(s(r, "clip_id"), s(r, "policy"), d(r, "tile_sparsity"),
                    d(r, "rel_l2_mean"), d(r, "psnr"), d(r, "ssim"), d(r, "latent_rel_l2"), d(r, "flicker"),
                    d(r, "flicker_reference")));
        }
        List<ReportData.StageBar> stages = new ArrayList<>();
        for (Row r : a.get("stages").collectAsList()) {
            stages.add(new ReportData.StageBar(s(r, "run_id"), s(r, "stage"), d(r, "mean_seconds")));
        }
        List<ReportData.Night> nights = new ArrayList<>();
        for (Row r : a.get("trends").collectAsList()) {
            nights.add(new ReportData.Night(s(r, "dt"), l(r, "runs"), l(r, "rendered"), l(r, "failed"),
                    d(r, "clips_per_hour"), d(r, "tile_sparsity")));
        }
        List<ReportData.RunRow> runs = new ArrayList<>();
        long failed = 0;
        double gpuHours = 0;
        for (Row r : a.get("runs").collectAsList()) {
            List<String> failures = r.isNullAt(r.fieldIndex("failures")) ? List.of() : r.getList(r.fieldIndex("failures"));
            runs.add(new ReportData.RunRow(s(r, "run_id"), s(r, "dt"), s(r, "model"), l(r, "rendered"), l(r, "failed"),
                    l(r, "stats_clips"), d(r, "gpu_hours"), d(r, "tile_sparsity"), d(r, "clips_per_hour"), failures));
            failed += l(r, "failed");
            gpuHours += d(r, "gpu_hours");
        }
        Row t = clips.selectExpr("count(1) AS n", "avg(tile_sparsity) AS ts", "avg(compute_saved) AS cs",
                "sum(sampled_layer_steps) AS sampled", "count(psnr) AS refs").first();
        ReportData.Totals totals = new ReportData.Totals(runs.size(), l(t, "n"), failed, gpuHours, d(t, "ts"),
                d(t, "cs"), l(t, "sampled"), l(t, "refs"));
        List<ReportData.WorstClip> lowRecall = worst(clips.where(col("recall_mean").isNotNull())
                .orderBy(col("recall_mean").asc(), col("clip_id")), stats);
        List<ReportData.WorstClip> highError = worst(clips.where(col("rel_l2_mean").isNotNull())
                .orderBy(col("rel_l2_mean").desc(), col("clip_id")), stats);
        List<ReportData.WorstClip> slowest = worst(clips.where(col("total_seconds").isNotNull())
                .orderBy(col("total_seconds").desc(), col("clip_id")), stats);
        return new ReportData("sparse-render sparsity report", options.stats(), options.rangeText(),
                Instant.now().truncatedTo(ChronoUnit.SECONDS).toString(), totals, heat, recall, points, (int) l(t, "n"),
                stages, nights, runs, lowRecall, highError, slowest);
    }

    private static List<ReportData.WorstClip> worst(Dataset<Row> ordered, OutputLayout stats) {
        List<ReportData.WorstClip> out = new ArrayList<>();
        for (Row r : ordered.limit(ReportRun.WORST).collectAsList()) {
            String id = s(r, "clip_id");
            out.add(new ReportData.WorstClip(id, s(r, "run_id"), s(r, "prompt"), s(r, "policy"), s(r, "model"),
                    d(r, "tile_sparsity"), d(r, "recall_mean"), d(r, "recall_p05"), d(r, "rel_l2_mean"),
                    d(r, "total_seconds"), href(stats, id, ".mp4"), href(stats, id, ".json")));
        }
        return out;
    }

    /** Link to a clip's file; clip ids that are not 32 hex characters get no link (never a path from data). */
    private static String href(OutputLayout stats, String clipId, String ext) {
        try {
            return (ext.equals(".mp4") ? stats.video(clipId) : stats.sidecar(clipId)).toUri().toString();
        } catch (IllegalArgumentException e) {
            return "#invalid-clip-id";
        }
    }

    private static String s(Row r, String name) {
        Object v = r.getAs(name);
        return v == null ? "" : v.toString();
    }

    private static double d(Row r, String name) {
        Object v = r.getAs(name);
        return v == null ? Double.NaN : ((Number) v).doubleValue();
    }

    private static long l(Row r, String name) {
        Object v = r.getAs(name);
        return v == null ? 0 : ((Number) v).longValue();
    }
}
