package io.sparserender.driver.job;

import io.sparserender.driver.executor.RenderPlugin;
import io.sparserender.driver.spark.SparkSettings;
import java.util.HashMap;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * Starts the Spark session for a generate run and runs it: under spark-submit with the submitted
 * settings, otherwise in local mode on {@code localMaster}. Kept apart from the CLI so the command
 * classes load on hosts without Spark (the GPU-host bundle).
 */
public final class GenerateJob {
    private GenerateJob() {}

    /**
     * @param sparkConf further Spark settings ({@code generate --conf}); {@link RenderPlugin} is added to
     *                  {@code spark.plugins} (after any plugins already named there or submitted)
     */
    public static GenerateRun.Summary run(GenerateOptions options, String localMaster, Map<String, String> sparkConf) {
        Map<String, String> conf = new HashMap<>(RenderPlugin.toConf(options.renderer()));
        conf.putAll(sparkConf);
        String plugins = sparkConf.getOrDefault("spark.plugins", System.getProperty("spark.plugins", ""));
        conf.put("spark.plugins", SparkSettings.withPlugin(plugins, RenderPlugin.class.getName()));
        SparkSession spark = SparkSettings.jobSession("sparse-render generate", localMaster, conf);
        try {
            return new GenerateRun(spark, options).run();
        } finally {
            spark.stop();
        }
    }
}
