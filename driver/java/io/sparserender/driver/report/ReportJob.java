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
        SparkSession spark = SparkSettings.jobSession("sparse-render report", localMaster, Map.of());
        try {
            return new ReportRun(spark, options).run();
        } finally {
            spark.stop();
        }
    }
}
