package io.sparserender.driver.job;

import io.sparserender.driver.executor.RenderPlugin;
import io.sparserender.driver.spark.SparkSettings;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * Starts the Spark session for a generate run and runs it: under spark-submit with the submitted
 * settings, otherwise in local mode on {@code localMaster}. Kept apart from the CLI so the command
 * classes load on hosts without Spark (the GPU-host bundle).
 */
public final class GenerateJob {
    private GenerateJob() {}

    public static GenerateRun.Summary run(GenerateOptions options, String localMaster) {
        boolean submitted = System.getProperty("spark.master") != null;
        SparkSession.Builder b = SparkSession.builder().appName("sparse-render generate");
        Map<String, String> conf = submitted ? SparkSettings.common() : SparkSettings.local(1);
        if (!submitted) {
            conf.put("spark.master", localMaster);
            conf.put("spark.ui.enabled", "false");
        }
        conf.putAll(RenderPlugin.toConf(options.renderer()));
        conf.forEach(b::config);
        SparkSession spark = b.getOrCreate();
        try {
            return new GenerateRun(spark, options).run();
        } finally {
            spark.stop();
        }
    }
}
