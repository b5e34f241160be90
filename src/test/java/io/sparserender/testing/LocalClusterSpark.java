package io.sparserender.testing;

import io.sparserender.driver.spark.SparkSettings;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * Spark in {@code local-cluster} mode: a master and workers inside this JVM, and each executor in a
 * JVM of its own, as on a cluster. Without a Spark distribution, {@code $SPARK_HOME/jars} (set by the
 * build to target/spark-home) is filled with links to this JVM's classpath jars; executors get the
 * project's classes and the JVM flags of {@code conf/jvm.options}.
 */
public final class LocalClusterSpark {
    private LocalClusterSpark() {}

    /** {@code executors} workers of one core each: one executor per worker. */
    public static SparkSession start(int executors, Map<String, String> extraConf) throws IOException {
        return start(executors, 1, 1024, extraConf);
    }

    /**
     * {@code workers} workers of {@code coresPerWorker} cores and {@code mbPerWorker} MiB each
     * ({@code local-cluster[workers,cores,mb]}); a worker starts as many executors as its cores, memory and
     * resources (e.g. {@code spark.worker.resource.gpu.*}) allow for the executor settings in {@code extraConf}.
     */
    public static SparkSession start(int workers, int coresPerWorker, int mbPerWorker, Map<String, String> extraConf)
            throws IOException {
        String home = System.getenv("SPARK_HOME");
        if (home == null) {
            throw new IllegalStateException("SPARK_HOME is not set: run through Maven (failsafe sets it)");
        }
        Path jars = Files.createDirectories(Path.of(home, "jars"));
        List<String> dirs = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Path.of(entry);
            if (Files.isDirectory(p)) {
                dirs.add(p.toAbsolutePath().toString());
            } else if (entry.endsWith(".jar") && Files.exists(p)) {
                Path link = jars.resolve(p.getFileName());
                if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Files.createSymbolicLink(link, p.toAbsolutePath());
                }
            }
        }
        Path basedir = Path.of(System.getProperty("sparserender.basedir", "."));
        SparkSession.Builder b = SparkSession.builder().appName("sparse-render-local-cluster");
        Map<String, String> conf = SparkSettings.local(workers * coresPerWorker);
        conf.put("spark.master", "local-cluster[" + workers + "," + coresPerWorker + "," + mbPerWorker + "]");
        conf.put("spark.ui.enabled", "false");
        conf.put("spark.executor.extraClassPath", String.join(File.pathSeparator, dirs));
        conf.put("spark.executor.extraJavaOptions", "@" + basedir.resolve("conf/jvm.options").toAbsolutePath()
                + " -Dlog4j2.configurationFile=" + basedir.resolve("src/test/resources/log4j2-test.properties").toAbsolutePath());
        conf.put("spark.task.maxFailures", "4");
        // notice a killed executor in seconds rather than after the default 120 s network timeout
        conf.put("spark.network.timeout", "20s");
        // Spark 4 requires the timeout check interval (default 60 s) to be at most the network timeout.
        conf.put("spark.network.timeoutInterval", "10s");
        conf.put("spark.executor.heartbeatInterval", "2s");
        conf.putAll(extraConf);
        conf.forEach(b::config);
        return b.getOrCreate();
    }
}
