package io.sparserender.driver.report;

import io.sparserender.driver.spark.SparkSettings;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * Starts the Spark session for a report and runs it: under spark-submit with the submitted settings,
 * otherwise in local mode on {@code localMaster}. Kept apart from the CLI so the command classes load on
 * hosts without Spark (the GPU-host bundle).
 */
public final class ReportJob {
    private ReportJob() {}

    public static ReportRun.Summary run(ReportOptions options, String localMaster) {
        boolean submitted = System.getProperty("spark.master") != null;
        SparkSession.Builder b = SparkSession.builder().appName("sparse-render report");
        Map<String, String> conf = submitted ? SparkSettings.common() : SparkSettings.local(2);
        if (!submitted) {
            conf.put("spark.master", localMaster);
            conf.put("spark.ui.enabled", "false");
        }
        conf.forEach(b::config);
        SparkSession spark = b.getOrCreate();
        try {
            return new ReportRun(spark, options).run();
        } finally {
            spark.stop();
        }
    }
}
