package io.sparserender.driver.staging;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * Where and how executors stage models, from their Spark configuration.
 *
 * @param dir     {@value #DIR}; default {@code sparse-render-models} under the first {@code spark.local.dir}
 *                (else {@code java.io.tmpdir}). Copies there are reused by every executor JVM of the host and by
 *                later applications, so point it at a persistent local disk with room for the models
 * @param threads {@value #THREADS}: files copied at once (default {@value #DEFAULT_THREADS})
 */
public record StagingSettings(Path dir, int threads) {
    public static final String DIR = "spark.sparserender.stagingDir";
    public static final String THREADS = "spark.sparserender.staging.threads";
    static final int DEFAULT_THREADS = 4;

    public StagingSettings {
        Objects.requireNonNull(dir, "dir is null");
        if (threads < 1) {
            throw new IllegalArgumentException("Invalid " + THREADS + " " + threads + ": must be 1 or more");
        }
    }

    public static StagingSettings fromSparkConf(Map<String, String> conf) {
        String dir = conf.get(DIR);
        if (dir == null || dir.isBlank()) {
            String local = conf.getOrDefault("spark.local.dir", "").split(",")[0].trim();
            dir = Path.of(local.isEmpty() ? System.getProperty("java.io.tmpdir") : local, "sparse-render-models").toString();
        }
        String threads = conf.getOrDefault(THREADS, String.valueOf(DEFAULT_THREADS));
        try {
            return new StagingSettings(Path.of(dir), Integer.parseInt(threads.trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Invalid " + THREADS + " '" + threads + "': not a whole number");
        }
    }
}
