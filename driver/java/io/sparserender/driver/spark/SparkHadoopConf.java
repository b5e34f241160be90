package io.sparserender.driver.spark;

import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * The Hadoop configuration Spark gives a job: Hadoop's defaults and site files plus every
 * {@code spark.hadoop.*} setting with the prefix removed. For code that runs before a Spark context
 * exists (the driver identifying a model) or beside it (an executor plugin staging one).
 */
public final class SparkHadoopConf {
    private static final String PREFIX = "spark.hadoop.";

    private SparkHadoopConf() {}

    public static Configuration of(Map<String, String> sparkConf) {
        Configuration c = new Configuration();
        sparkConf.forEach((k, v) -> {
            if (k.startsWith(PREFIX)) {
                c.set(k.substring(PREFIX.length()), v);
            }
        });
        return c;
    }
}
