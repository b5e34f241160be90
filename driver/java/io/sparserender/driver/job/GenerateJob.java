package io.sparserender.driver.job;

import io.sparserender.driver.executor.RenderPlugin;
import io.sparserender.driver.spark.SparkSettings;
import org.apache.spark.sql.SparkSession;

/**
 * Starts the Spark session for a generate run and runs it: under spark-submit with the submitted
 * settings, otherwise in local mode on {@code localMaster}. Kept apart from the CLI so the command
 * classes load on hosts without Spark (the GPU-host bundle).
 */
public final class GenerateJob {
    private GenerateJob() {}

    public static GenerateRun.Summary run(GenerateOptions options, String localMaster) {
        SparkSession spark = SparkSettings.jobSession("sparse-render generate", localMaster,
                RenderPlugin.toConf(options.renderer()));
        try {
            return new GenerateRun(spark, options).run();
        } finally {
            spark.stop();
        }
    }
}
