package io.sparserender.driver.staging;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.driver.executor.RenderPlugin;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.executor.WanRendererFactory;
import io.sparserender.testing.LocalClusterSpark;
import io.sparserender.testing.ModelUpload;
import io.sparserender.testing.S3TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two executor JVMs on one host (Spark local-cluster) start with a model on S3: one stages it, the
 * other waits on the file lock and reuses the copy (both then load it: the plugin's start would fail
 * otherwise), as their metrics report. Rendering from a staged model is GenerateFromS3ModelTest's.
 */
class ModelStagingLocalClusterIT {
    private static final String PLUGIN = ".plugin.io.sparserender.driver.executor.RenderPlugin.";

    @TempDir
    Path dir;

    @Test
    void executorsOfOneHostStageTheModelOnce() throws Exception {
        Path model = ModelUpload.tinyModel(dir.resolve("cache"));
        long modelBytes = 0;
        for (Path f : ModelUpload.files(model)) {
            modelBytes += Files.size(f);
        }
        Path metrics = Files.createDirectories(dir.resolve("metrics"));
        try (S3TestServer s3 = new S3TestServer()) {
            String bucket = s3.uniqueBucket("cluster-models");
            try (var client = s3.client()) {
                ModelUpload.upload(client, bucket, "wan-tiny", model);
                ModelUpload.put(client, bucket, "wan-tiny/" + ChecksumManifest.FILE, ModelUpload.sha256sums(model));
            }
            String uri = "s3a://" + bucket + "/wan-tiny";
            RemoteModel remote = RemoteModel.identify(uri, s3.hadoopConf());
            RendererSettings renderer = new RendererSettings(WanRendererFactory.class.getName(), "cpu", uri,
                    Map.of("model_revision", remote.revision(), "model_source_key", remote.sourceKey()));
            Map<String, String> conf = new HashMap<>(RenderPlugin.toConf(renderer));
            conf.put("spark.plugins", RenderPlugin.class.getName());
            conf.put(StagingSettings.DIR, dir.resolve("staging").toString());
            s3.hadoopConf().getPropsWithPrefix("fs.s3a.").forEach((k, v) -> conf.put("spark.hadoop.fs.s3a." + k, v));
            conf.put("spark.metrics.namespace", "sr");
            conf.put("spark.metrics.conf.*.sink.csv.class", "org.apache.spark.metrics.sink.CsvSink");
            conf.put("spark.metrics.conf.*.sink.csv.period", "1");
            conf.put("spark.metrics.conf.*.sink.csv.unit", "seconds");
            conf.put("spark.metrics.conf.*.sink.csv.directory", metrics.toString());
            SparkSession spark = LocalClusterSpark.start(2, conf);
            try {
                // both executors stage at start, before any task; their sinks report every second
                long deadline = System.nanoTime() + 120_000_000_000L;
                while ((executors(metrics, "stagingReused").size() < 2 || sum(metrics, "stagingReused") < 1
                        || sum(metrics, "stagedBytes") < modelBytes) && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertThat(executors(metrics, "stagedBytes")).as("one source per executor").hasSize(2);
                assertThat(sum(metrics, "stagedBytes")).as("bytes copied, all executors").isEqualTo(modelBytes);
                assertThat(sum(metrics, "stagingReused")).as("executors that reused the copy").isEqualTo(1);
            } finally {
                spark.stop();
            }
        }
        try (Stream<Path> s = Files.list(dir.resolve("staging"))) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith("."))).hasSize(1);
        }
    }

    private static List<Path> executors(Path metrics, String name) throws Exception {
        try (Stream<Path> s = Files.list(metrics)) {
            return s.filter(p -> p.getFileName().toString().endsWith(PLUGIN + name + ".csv")
                    && !p.getFileName().toString().startsWith("sr.driver.")).toList();
        }
    }

    /** The sum over executors of the last value each wrote (CsvSink columns: t,count or t,value). */
    private static double sum(Path metrics, String name) throws Exception {
        double total = 0;
        for (Path csv : executors(metrics, name)) {
            List<String> lines = Files.readAllLines(csv);
            for (int i = lines.size() - 1; i > 0; i--) { // the last complete line: a sink may be writing the next
                if (lines.get(i).matches("\\d+,-?[0-9.]+")) {
                    total += Double.parseDouble(lines.get(i).split(",")[1]);
                    break;
                }
            }
        }
        return total;
    }
}
