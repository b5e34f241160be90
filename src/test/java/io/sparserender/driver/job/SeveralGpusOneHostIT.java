package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.driver.executor.RenderPlugin;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.prompts.ClipDefaults;
import io.sparserender.driver.prompts.PolicyCanonicalizer;
import io.sparserender.testing.LocalClusterSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several GPUs on one host (docs/OPERATIONS.md, "Several GPUs per host"): one worker owns every GPU of the
 * host through its discovery script ({@code spark.worker.resource.gpu.*}) and starts one executor per GPU,
 * each given a different address; every clip renders once, on one of them. The discovery script here is
 * a stand-in reporting two GPUs, the renderer the stand-in that names the address its executor was given.
 * The worker has three cores, so the GPUs, not the cores, bound the executor count.
 */
class SeveralGpusOneHostIT {
    @TempDir
    Path dir;

    @Test
    void eachExecutorRendersOnItsOwnGpuAndEveryClipOnce() throws Exception {
        Path discovery = dir.resolve("two-gpus.sh");
        Files.writeString(discovery, "#!/usr/bin/env bash\necho '{\"name\":\"gpu\",\"addresses\":[\"0\",\"1\"]}'\n");
        Files.setPosixFilePermissions(discovery, PosixFilePermissions.fromString("rwxr-xr-x"));
        RendererSettings renderer = new RendererSettings(StandInRendererFactory.class.getName(), "cpu", "stand-in",
                Map.of("delay_ms", "300"));
        Map<String, String> conf = new HashMap<>(RenderPlugin.toConf(renderer));
        conf.put("spark.plugins", RenderPlugin.class.getName());
        conf.put("spark.worker.resource.gpu.amount", "2");
        conf.put("spark.worker.resource.gpu.discoveryScript", discovery.toString());
        conf.put("spark.executor.resource.gpu.amount", "1");
        conf.put("spark.task.resource.gpu.amount", "1");
        conf.put("spark.executor.cores", "1");
        conf.put("spark.executor.memory", "1g");

        SparkSession spark = LocalClusterSpark.start(1, 3, 3072, conf);
        try {
            awaitExecutors(spark, 2);
            int clips = 8;
            ClipDefaults defaults = new ClipDefaults("stand-in", "r", 16, "", 0, 64, 32, 5, 2, 5.0, Double.NaN, 5.0, "dense");
            String out = dir.toUri() + "out/";
            GenerateRun.Summary s = new GenerateRun(spark, new GenerateOptions(prompts(clips).toString(), null, out, "gpus",
                    0, 0.0, defaults, PolicyCanonicalizer.ENGINE, renderer, c -> 1.0, 2.0)).run();

            assertThat(s.rendered()).isEqualTo(clips);
            assertThat(s.failed()).isZero();
            var stats = spark.read().parquet(out + "stats/clips");
            assertThat(stats.count()).isEqualTo(clips);
            assertThat(stats.select("clip_id").distinct().count()).isEqualTo(clips);
            Map<String, Long> perDevice = new TreeMap<>();
            for (Row r : stats.groupBy("device").count().collectAsList()) {
                perDevice.put(r.getString(0), r.getLong(1));
            }
            assertThat(perDevice).as("clips per device").containsOnlyKeys("stand-in gpu 0", "stand-in gpu 1");
            assertThat(sidecarDevices(dir.resolve("out/clips"))).as("the sidecars' devices").isEqualTo(perDevice);
            assertThat(spark.sparkContext().statusTracker().getExecutorInfos()).as("driver + one executor per GPU").hasSize(3);
        } finally {
            spark.stop();
        }
    }

    /** Waits until {@code n} executors have registered, so planning sees them all and each gets partitions. */
    private static void awaitExecutors(SparkSession spark, int n) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (spark.sparkContext().statusTracker().getExecutorInfos().length < n + 1 && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(spark.sparkContext().statusTracker().getExecutorInfos()).as("driver + executors").hasSize(n + 1);
    }

    private Path prompts(int n) throws Exception {
        Path p = dir.resolve("prompts.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lines.add("{\"id\":\"c" + i + "\",\"prompt\":\"clip number " + i + "\",\"seed\":" + i + "}");
        }
        Files.write(p, lines);
        return p;
    }

    private static Map<String, Long> sidecarDevices(Path clipDir) throws Exception {
        ObjectMapper json = new ObjectMapper();
        Map<String, Long> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(clipDir)) {
            for (Path p : s.filter(f -> f.getFileName().toString().matches("[0-9a-f]{32}\\.json")).toList()) {
                m.merge(json.readTree(p.toFile()).get("device").asText(), 1L, Long::sum);
            }
        }
        return m;
    }
}
