package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.driver.executor.RenderPlugin;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.executor.WanRendererFactory;
import io.sparserender.driver.prompts.ClipDefaults;
import io.sparserender.driver.prompts.PolicyCanonicalizer;
import io.sparserender.testing.BrokenModels;
import io.sparserender.testing.LocalClusterSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster path of a broken model: two executor JVMs load it through {@link RenderPlugin} at start,
 * task retries are on ({@code spark.task.maxFailures=4}); the run ends once, with the executor's reason.
 */
class BrokenModelLocalClusterIT {
    @TempDir
    Path dir;

    @Test
    void nanWeightsStopTheRunOnceWithFileAndTensorNamedAndTheExecutorsStayUp() throws Exception {
        BrokenModels.Broken broken = BrokenModels.nanWeight(BrokenModels.tiny(dir.resolve("cache")), dir.resolve("model"));
        RendererSettings renderer = new RendererSettings(WanRendererFactory.class.getName(), "cpu",
                broken.root().toString(), Map.of());
        Map<String, String> conf = new HashMap<>(RenderPlugin.toConf(renderer));
        conf.put("spark.plugins", RenderPlugin.class.getName());
        SparkSession spark = LocalClusterSpark.start(2, conf);
        try {
            Path prompts = dir.resolve("prompts.jsonl");
            List<String> lines = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                lines.add("{\"prompt\":\"clip " + i + "\"}");
            }
            Files.write(prompts, lines);
            ClipDefaults defaults = new ClipDefaults("wan-tiny", "broken", 16, "", 0, 32, 32, 5, 2, 5.0, Double.NaN, 5.0,
                    "dense");
            GenerateOptions options = new GenerateOptions(prompts.toString(), null, dir.toUri() + "out", "broken", 0, 0.0,
                    defaults, PolicyCanonicalizer.ENGINE, renderer, c -> 1.0, 1.0);
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> new GenerateRun(spark, options).run())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("Cannot render run broken: ")
                    .hasMessageContaining("Cannot start the renderer (model " + broken.root() + ", backend cpu): Invalid weights in "
                            + broken.file() + ": tensor '" + broken.tensor() + "' holds NaN at element 3");
            System.out.printf("broken model: run failed after %.1f s%n", (System.nanoTime() - t0) / 1e9);
            // the executors refused the work but stayed registered: no relaunch loop of failing executors
            assertThat(spark.sparkContext().statusTracker().getExecutorInfos()).hasSize(3); // 2 executors + the driver
            assertThat(Files.exists(dir.resolve("out/clips"))).isFalse();
        } finally {
            spark.stop();
        }
    }
}
