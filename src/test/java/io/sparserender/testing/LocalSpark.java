package io.sparserender.testing;

import io.sparserender.driver.spark.SparkSettings;
import org.apache.spark.sql.SparkSession;

/** One local Spark session shared by the tests of a JVM (starting one costs seconds). */
public final class LocalSpark {
    private static SparkSession session;

    private LocalSpark() {}

    /**
     * Stops the shared session and any other active or default one, for a test that needs a session
     * of its own settings (Spark keeps one context per JVM); {@link #get} starts a new one afterwards.
     */
    public static synchronized void stopAll() {
        SparkSession.getActiveSession().foreach(s -> {
            s.stop();
            return null;
        });
        SparkSession.getDefaultSession().foreach(s -> {
            s.stop();
            return null;
        });
        if (session != null) {
            session.stop();
        }
    }

    public static synchronized SparkSession get() {
        if (session == null || session.sparkContext().isStopped()) {
            session = SparkSettings.localSession("sparse-render-tests", 2, false);
        }
        return session;
    }
}
