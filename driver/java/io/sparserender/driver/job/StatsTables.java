package io.sparserender.driver.job;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.lit;

import io.sparserender.driver.output.OutputLayout;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Builds the statistics tables of one run from its clips' sidecars (the sidecars are the record of
 * truth: a crash between rendering and writing tables loses nothing), keeping only clips this run
 * rendered, and rewrites the run's own {@code dt=/run_id=} partition whole. The sidecars are read by a
 * job of its own ({@link SidecarTexts}), not handed to Spark's file reader as thousands of paths. The clips
 * table's quality columns (psnr, ssim, latent_rel_l2, flicker, flicker_reference, reference_video) are null
 * for clips not sampled by {@code --reference-fraction}; psnr is +∞ (a Parquet double) for a clip identical
 * to its dense reference.
 */
final class StatsTables {
    static final StructType ATTENTION = new StructType()
            .add("step", DataTypes.IntegerType).add("layer", DataTypes.IntegerType)
            .add("tile_sparsity", DataTypes.DoubleType).add("compute_saved", DataTypes.DoubleType)
            .add("recall_mean", DataTypes.DoubleType).add("recall_p05", DataTypes.DoubleType)
            .add("rel_l2_vs_dense", DataTypes.DoubleType);

    static final StructType SPEC = new StructType()
            .add("prompt", DataTypes.StringType).add("negative_prompt", DataTypes.StringType)
            .add("seed", DataTypes.LongType).add("width", DataTypes.IntegerType).add("height", DataTypes.IntegerType)
            .add("frames", DataTypes.IntegerType).add("steps", DataTypes.IntegerType)
            .add("guidance", DataTypes.StringType).add("guidance_low", DataTypes.StringType)
            .add("shift", DataTypes.StringType).add("policy", DataTypes.StringType)
            .add("model", DataTypes.StringType).add("model_revision", DataTypes.StringType);

    /** The sidecar's {@code quality} object (clips sampled by --reference-fraction only); psnr may be "Infinity". */
    static final StructType QUALITY = new StructType()
            .add("reference_policy", DataTypes.StringType).add("reference_clip_id", DataTypes.StringType)
            .add("reference_video", DataTypes.StringType).add("reference_video_bytes", DataTypes.LongType)
            .add("reference_seconds", DataTypes.DoubleType).add("frames", DataTypes.IntegerType)
            .add("psnr", DataTypes.DoubleType).add("ssim", DataTypes.DoubleType)
            .add("latent_rel_l2", DataTypes.DoubleType).add("flicker", DataTypes.DoubleType)
            .add("flicker_reference", DataTypes.DoubleType);

    static final StructType SIDECAR = new StructType()
            .add("clip_id", DataTypes.StringType).add("run_id", DataTypes.StringType)
            .add("spec", SPEC).add("video", DataTypes.StringType).add("video_bytes", DataTypes.LongType)
            .add("device", DataTypes.StringType).add("finished", DataTypes.StringType)
            .add("stage_seconds", DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType))
            .add("tile_sparsity", DataTypes.DoubleType).add("compute_saved", DataTypes.DoubleType)
            .add("peak_device_bytes", DataTypes.LongType)
            .add("quality", QUALITY)
            .add("attention", DataTypes.createArrayType(ATTENTION));

    /** Row counts written: clips and clip × layer × step rows. */
    record Written(long clips, long layerSteps) {}

    private StatsTables() {}

    static Written write(SparkSession spark, OutputLayout layout, List<String> sidecarPaths, String runId, LocalDate day,
                         Map<String, String> hadoopConf) {
        if (sidecarPaths.isEmpty()) {
            return new Written(0, 0);
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Dataset<String> texts = spark.createDataset(jsc.parallelize(sidecarPaths,
                SidecarTexts.slices(sidecarPaths.size(), jsc.defaultParallelism()))
                .mapPartitions(new SidecarTexts(hadoopConf)).rdd(), Encoders.STRING());
        Dataset<Row> sidecars = spark.read().schema(SIDECAR).option("mode", "FAILFAST").json(texts)
                .where(col("run_id").equalTo(lit(runId)))
                .cache();
        try {
            Dataset<Row> clips = sidecars.select(col("clip_id"), col("spec.prompt").as("prompt"),
                    col("spec.model").as("model"), col("spec.policy").as("policy"), col("spec.seed").as("seed"),
                    col("spec.width").as("width"), col("spec.height").as("height"), col("spec.frames").as("frames"),
                    col("spec.steps").as("steps"), col("tile_sparsity"), col("compute_saved"),
                    col("peak_device_bytes"), col("stage_seconds"), col("device"), col("video"), col("video_bytes"),
                    col("finished"), col("quality.psnr").as("psnr"), col("quality.ssim").as("ssim"),
                    col("quality.latent_rel_l2").as("latent_rel_l2"), col("quality.flicker").as("flicker"),
                    col("quality.flicker_reference").as("flicker_reference"),
                    col("quality.reference_video").as("reference_video"),
                    lit(day.toString()).as("dt"), lit(runId).as("run_id"));
            Dataset<Row> layerSteps = sidecars
                    .select(col("clip_id"), col("spec.model").as("model"), col("spec.policy").as("policy"),
                            explode(col("attention")).as("a"))
                    .select(col("clip_id"), col("model"), col("policy"), col("a.step").as("step"),
                            col("a.layer").as("layer"), col("a.tile_sparsity").as("tile_sparsity"),
                            col("a.compute_saved").as("compute_saved"), col("a.recall_mean").as("recall_mean"),
                            col("a.recall_p05").as("recall_p05"), col("a.rel_l2_vs_dense").as("rel_l2_vs_dense"),
                            lit(day.toString()).as("dt"), lit(runId).as("run_id"));
            long nClips = clips.count();
            long nLayerSteps = layerSteps.count();
            overwritePartition(clips, layout.statsTable("clips").toString());
            overwritePartition(layerSteps, layout.statsTable("layer_steps").toString());
            return new Written(nClips, nLayerSteps);
        } finally {
            sidecars.unpersist();
        }
    }

    /** Replaces exactly the (dt, run_id) partitions present in {@code rows} (dynamic overwrite). */
    static void overwritePartition(Dataset<Row> rows, String table) {
        rows.coalesce(1).write().mode(SaveMode.Overwrite).option("partitionOverwriteMode", "dynamic")
                .partitionBy("dt", "run_id").parquet(table);
    }
}
