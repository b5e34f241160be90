package io.sparserender.testing;

import io.sparserender.driver.spark.SparkSettings;
import org.apache.spark.sql.SparkSession;

/** One local Spark session shared by the tests of a JVM (starting one costs seconds). */
public final class LocalSpark {
    private static SparkSession session;

    private LocalSpark() {}

    public static synchronized SparkSession get() {
        if (session == null || session.sparkContext().isStopped()) {
            session = SparkSettings.localSession("sparse-render-tests", 2, false);
        }
        return session;
    }
}
