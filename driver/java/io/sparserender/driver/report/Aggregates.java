package io.sparserender.driver.report;

import static org.apache.spark.sql.functions.avg;
import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.floor;
import static org.apache.spark.sql.functions.greatest;
import static org.apache.spark.sql.functions.least;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.size;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * The report's aggregate tables, each a pure function of the statistics tables (and run manifests).
 * Tables are unordered here; {@link #SORT} gives the order each is written in. Means are plain means over rows; sampled-only fields (recall, attention error, reference quality) are
 * means over the rows that have them, null when none do.
 */
final class Aggregates {
    /** Recall histogram bins over [0, 1]. */
    static final int RECALL_BINS = 20;

    /**
     * A clip's render time: its "total" stage when the renderer recorded one, else the sum of its stages
     * ("attention" is time inside "dit", so it is not added again).
     */
    static final String TOTAL_SECONDS = "coalesce(stage_seconds['total'], aggregate(map_values(map_filter("
            + "stage_seconds, (k, v) -> k NOT IN ('total', 'attention'))), 0D, (a, b) -> a + b))";

    /** Sort columns of each table: files are written as one sorted Parquet file per table. */
    static final java.util.Map<String, String[]> SORT = java.util.Map.of(
            "layer_steps", new String[] {"policy", "model", "layer", "step"},
            "clips", new String[] {"dt", "run_id", "clip_id"},
            "runs", new String[] {"dt", "started", "run_id"},
            "stages", new String[] {"dt", "run_id", "stage"},
            "recall_histogram", new String[] {"policy", "bin"},
            "trends", new String[] {"dt"});

    private Aggregates() {}

    /** Per policy × model × layer × step. */
    static Dataset<Row> layerSteps(Dataset<Row> ls) {
        return ls.groupBy("policy", "model", "layer", "step").agg(
                        count(lit(1)).as("clips"),
                        avg("tile_sparsity").as("tile_sparsity"),
                        avg("compute_saved").as("compute_saved"),
                        count("recall_mean").as("sampled"),
                        avg("recall_mean").as("recall_mean"),
                        avg("recall_p05").as("recall_p05"),
                        min("recall_p05").as("recall_p05_min"),
                        avg("rel_l2_vs_dense").as("rel_l2_mean"),
                        max("rel_l2_vs_dense").as("rel_l2_max"));
    }

    /** Per clip: the clip row, its stage total, and its sampled attention quality. */
    static Dataset<Row> clips(Dataset<Row> clips, Dataset<Row> ls) {
        Dataset<Row> quality = ls.groupBy("clip_id").agg(
                count("recall_mean").as("sampled_layer_steps"),
                avg("recall_mean").as("recall_mean"),
                min("recall_p05").as("recall_p05"),
                avg("rel_l2_vs_dense").as("rel_l2_mean"),
                max("rel_l2_vs_dense").as("rel_l2_max"));
        return clips
                .withColumn("total_seconds", expr(TOTAL_SECONDS))
                .join(quality, clips.col("clip_id").equalTo(quality.col("clip_id")), "left")
                .select(clips.col("dt"), clips.col("run_id"), clips.col("clip_id"), col("prompt"), col("model"),
                        col("policy"), col("seed"), col("width"), col("height"), col("frames"), col("steps"),
                        col("tile_sparsity"), col("compute_saved"), col("peak_device_bytes"), col("total_seconds"),
                        col("stage_seconds"), col("device"), col("video"), col("video_bytes"), col("finished"),
                        coalesce(col("sampled_layer_steps"), lit(0L)).as("sampled_layer_steps"),
                        col("recall_mean"), col("recall_p05"), col("rel_l2_mean"), col("rel_l2_max"),
                        col("psnr"), col("ssim"), col("latent_rel_l2"), col("flicker"), col("flicker_reference"),
                        col("reference_video"));
    }

    /** Per run × stage: clips and seconds (from the per-clip aggregate). */
    static Dataset<Row> stages(Dataset<Row> clipAgg) {
        return clipAgg.select(col("dt"), col("run_id"), explode(col("stage_seconds")).as(new String[] {"stage", "s"}))
                .groupBy("dt", "run_id", "stage")
                .agg(count(lit(1)).as("clips"), sum("s").as("seconds"), avg("s").as("mean_seconds"));
    }

    /** Per policy: how many sampled layer × step rows fall in each recall bin. */
    static Dataset<Row> recallHistogram(Dataset<Row> ls) {
        Column bin = least(greatest(floor(col("recall_mean").multiply(RECALL_BINS)), lit(0L)), lit(RECALL_BINS - 1L));
        return ls.where(col("recall_mean").isNotNull())
                .groupBy(col("policy"), bin.as("bin"))
                .agg(count(lit(1)).as("count"))
                .select(col("policy"), col("bin").cast("int").as("bin"),
                        col("bin").divide(RECALL_BINS).as("bin_lo"), col("bin").plus(1).divide(RECALL_BINS).as("bin_hi"),
                        col("count"));
    }

    /**
     * Per run: manifest counts joined with what its statistics say. gpu_hours is the sum over the run's
     * clips of their stage seconds (device time spent rendering), clips_per_hour is rendered clips per hour
     * of the run's wall time.
     */
    static Dataset<Row> runs(Dataset<Row> manifests, Dataset<Row> clipAgg, Dataset<Row> ls) {
        Dataset<Row> fromClips = clipAgg.groupBy(col("run_id").as("c_run"), col("dt").as("c_dt")).agg(
                count(lit(1)).as("stats_clips"),
                sum("total_seconds").divide(3600.0).as("gpu_hours"),
                avg("tile_sparsity").as("tile_sparsity"),
                avg("compute_saved").as("compute_saved"));
        Dataset<Row> fromLs = ls.groupBy(col("run_id").as("l_run")).agg(avg("recall_mean").as("recall_mean"));
        Dataset<Row> j = manifests.join(fromClips, manifests.col("run_id").equalTo(fromClips.col("c_run")), "full_outer");
        j = j.join(fromLs, coalesce(col("run_id"), col("c_run")).equalTo(fromLs.col("l_run")), "left");
        Column wall = col("wall_seconds");
        return j.select(
                        coalesce(col("run_id"), col("c_run")).as("run_id"),
                        coalesce(col("manifest_dt"), col("c_dt")).as("dt"),
                        col("started"), col("finished"), wall,
                        col("manifest_model").as("model"), col("backend"),
                        col("rows"), col("rejected"), col("clips"), col("already_done"), col("rendered"), col("failed"),
                        coalesce(size(col("failures")).cast("long"), lit(0L)).as("failure_count"),
                        col("failures"),
                        coalesce(col("stats_clips"), lit(0L)).as("stats_clips"),
                        coalesce(col("gpu_hours"), lit(0.0)).as("gpu_hours"),
                        col("tile_sparsity"), col("compute_saved"), col("recall_mean"),
                        when(wall.gt(0), col("rendered").divide(wall).multiply(3600.0)).as("clips_per_hour"));
    }

    /** Per night (dt): the runs of that day together. */
    static Dataset<Row> trends(Dataset<Row> runs, Dataset<Row> clipAgg) {
        Dataset<Row> quality = clipAgg.groupBy(col("dt").as("q_dt")).agg(
                avg("tile_sparsity").as("tile_sparsity"), avg("compute_saved").as("compute_saved"),
                avg("recall_mean").as("recall_mean"));
        Dataset<Row> perDay = runs.groupBy("dt").agg(
                count(lit(1)).as("runs"), sum("rendered").as("rendered"), sum("failed").as("failed"),
                sum("stats_clips").as("stats_clips"), sum("gpu_hours").as("gpu_hours"),
                sum("wall_seconds").as("wall_seconds"));
        return perDay.join(quality, perDay.col("dt").equalTo(quality.col("q_dt")), "left")
                .select(col("dt"), col("runs"), col("rendered"), col("failed"), col("stats_clips"), col("gpu_hours"),
                        when(col("wall_seconds").gt(0), col("rendered").divide(col("wall_seconds")).multiply(3600.0))
                                .as("clips_per_hour"),
                        col("tile_sparsity"), col("compute_saved"), col("recall_mean"));
    }
}
