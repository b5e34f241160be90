package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.executor.WanRendererFactory;
import io.sparserender.driver.prompts.ClipDefaults;
import io.sparserender.driver.prompts.PolicyCanonicalizer;
import io.sparserender.driver.spark.SparkSettings;
import io.sparserender.engine.pipeline.ModelRepo;
import io.sparserender.testing.BrokenModels;
import io.sparserender.testing.LocalSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broken model fails the run once, with the executor's reason (file and tensor named), instead of
 * being loaded again for every task retry: Spark local mode with 2 threads and task retries on
 * ({@code local[2,4]}), each case a copy of the tiny model with one defect.
 */
class BrokenModelTest {
    private static final int MAX_FAILURES = 4;
    private static SparkSession spark;

    @TempDir
    static Path shared;

    @TempDir
    Path dir;

    private final AtomicInteger failedAttempts = new AtomicInteger();

    @BeforeAll
    static void startSparkWithRetries() {
        LocalSpark.stopAll(); // the shared local[2] session has no task retries
        SparkSession.Builder b = SparkSession.builder().appName("broken-model");
        SparkSettings.local(2).forEach(b::config);
        b.config("spark.master", "local[2," + MAX_FAILURES + "]").config("spark.ui.enabled", "false");
        spark = b.getOrCreate();
    }

    @AfterAll
    static void stopSpark() {
        spark.stop();
    }

    @AfterEach
    void forgetTheFailedStart() {
        ExecutorEngine.shutdown();
    }

    private void assertFailsOnce(BrokenModels.Broken broken, String... reason) throws Exception {
        Path prompts = dir.resolve("prompts.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            lines.add("{\"prompt\":\"clip " + i + "\"}");
        }
        Files.write(prompts, lines);
        ClipDefaults defaults = new ClipDefaults("wan-tiny", "broken", 16, "", 0, 32, 32, 5, 2, 5.0, Double.NaN, 5.0, "dense");
        RendererSettings renderer = new RendererSettings(WanRendererFactory.class.getName(), "cpu",
                broken.root().toString(), Map.of());
        // one clip per partition: 6 tasks, each of which Spark would try 4 times
        GenerateOptions options = new GenerateOptions(prompts.toString(), null, dir.toUri() + "out", "broken", 0, 0.0,
                defaults, PolicyCanonicalizer.ENGINE, renderer, c -> 1.0, 1.0);
        SparkListener counter = new SparkListener() {
            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (!end.taskInfo().successful()) {
                    failedAttempts.incrementAndGet();
                }
            }
        };
        spark.sparkContext().addSparkListener(counter);
        int attemptsBefore = ExecutorEngine.startAttempts();
        try {
            var thrown = assertThatThrownBy(() -> new GenerateRun(spark, options).run())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("Cannot render run broken: ")
                    .hasMessageContaining("Cannot start the renderer (model " + broken.root() + ", backend cpu): ")
                    .hasMessageContaining(broken.file().toString());
            if (broken.tensor() != null) {
                thrown.hasMessageContaining("'" + broken.tensor() + "'");
            }
            for (String r : reason) {
                thrown.hasMessageContaining(r);
            }
        } finally {
            spark.sparkContext().removeSparkListener(counter);
        }
        assertThat(ExecutorEngine.startAttempts() - attemptsBefore).as("model loads").isEqualTo(1);
        assertThat(Files.exists(dir.resolve("out/clips"))).isFalse();
        assertThat(Files.exists(dir.resolve("out/runs/broken.json"))).isFalse();
    }

    private ModelRepo tiny() {
        return BrokenModels.tiny(shared.resolve("cache"));
    }

    @Test
    void missingShard() throws Exception {
        assertFailsOnce(BrokenModels.missingShard(tiny(), dir.resolve("m")), "is missing (the index lists ");
    }

    @Test
    void truncatedShard() throws Exception {
        assertFailsOnce(BrokenModels.truncatedShard(tiny(), dir.resolve("m")), "run past the end of the data section");
    }

    @Test
    void headerLengthPastTheEnd() throws Exception {
        assertFailsOnce(BrokenModels.headerLengthPastTheEnd(tiny(), dir.resolve("m")), "runs past the end of the file");
    }

    @Test
    void wrongShape() throws Exception {
        assertFailsOnce(BrokenModels.wrongShape(tiny(), dir.resolve("m")), "misshaped 1: 'proj_out.weight' is [63, 256], expected [64, 256]");
    }

    @Test
    void nanWeight() throws Exception {
        assertFailsOnce(BrokenModels.nanWeight(tiny(), dir.resolve("m")), "holds NaN at element 3");
    }

    @Test
    void infiniteVaeWeight() throws Exception {
        assertFailsOnce(BrokenModels.infiniteVaeWeight(tiny(), dir.resolve("m")), "holds Infinity at element 3");
    }

    @Test
    void configOfAModelNoPresetKnows() throws Exception {
        assertFailsOnce(BrokenModels.unknownConfig(tiny(), dir.resolve("m")), "Cannot tell which Wan model",
                "3 layers", "matches no preset");
    }

    @Test
    void wrongModelForTheConfig() throws Exception {
        assertFailsOnce(BrokenModels.wrongModel(tiny(), dir.resolve("m")), "Invalid Wan checkpoint ", "missing ", "unexpected ");
    }
}
