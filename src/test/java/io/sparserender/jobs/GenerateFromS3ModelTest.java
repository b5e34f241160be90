package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.driver.staging.ChecksumManifest;
import io.sparserender.engine.pipeline.ModelRepo;
import io.sparserender.engine.video.Mp4Reader;
import io.sparserender.testing.ModelUpload;
import io.sparserender.testing.S3TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * generate with {@code --model s3a://...} in Spark local mode: the model is staged from a real
 * S3-compatible server once for the executor, clips render from the staged copy, and the executor's
 * metrics reach a sink of Spark's metrics system.
 */
class GenerateFromS3ModelTest {
    private static final String SOURCE = "sparse-render.driver.plugin.io.sparserender.driver.executor.RenderPlugin.";

    @TempDir
    Path dir;

    private S3TestServer s3;
    private Path model;

    @BeforeEach
    void start() throws Exception {
        // --conf settings (plugins, metrics sinks) only apply to a new session: end one another test left running
        SparkSession.getDefaultSession().foreach(s -> {
            s.stop();
            return null;
        });
        s3 = new S3TestServer();
        model = ModelUpload.tinyModel(dir.resolve("cache"));
    }

    @AfterEach
    void stop() throws Exception {
        ExecutorEngine.shutdown();
        s3.close();
    }

    private String upload() throws Exception {
        String bucket = s3.uniqueBucket("models");
        try (var client = s3.client()) {
            ModelUpload.upload(client, bucket, "models/wan-tiny", model);
            ModelUpload.put(client, bucket, "models/wan-tiny/" + ChecksumManifest.FILE, ModelUpload.sha256sums(model));
        }
        return bucket;
    }

    private CliTest.Result generate(String modelUri, String... extra) throws Exception {
        Path prompts = dir.resolve("prompts.jsonl");
        Files.writeString(prompts, "{\"prompt\":\"a lighthouse at dusk\"}\n{\"prompt\":\"a fox in snow\",\"seed\":7}\n");
        List<String> args = new ArrayList<>(List.of("generate", "--prompts", prompts.toString(), "--model", modelUri,
                "--out", dir.resolve("out").toString(), "--size", "64x32", "--frames", "5", "--steps", "2",
                "--conf", "spark.sparserender.stagingDir=" + dir.resolve("staging")));
        s3.hadoopConf().getPropsWithPrefix("fs.s3a.").forEach((k, v) -> {
            args.add("--conf");
            args.add("spark.hadoop.fs.s3a." + k + "=" + v);
        });
        args.addAll(List.of(extra));
        return CliTest.run(args.toArray(String[]::new));
    }

    @Test
    void rendersFromAStagedModelAndPublishesExecutorMetrics() throws Exception {
        String bucket = upload();
        Path metrics = Files.createDirectories(dir.resolve("metrics"));
        CliTest.Result r = generate("s3a://" + bucket + "/models/wan-tiny", "--policy", "topk:k=1,br=4,bc=4",
                "--conf", "spark.metrics.namespace=sparse-render",
                "--conf", "spark.metrics.conf.*.sink.csv.class=org.apache.spark.metrics.sink.CsvSink",
                "--conf", "spark.metrics.conf.*.sink.csv.period=1",
                "--conf", "spark.metrics.conf.*.sink.csv.unit=seconds",
                "--conf", "spark.metrics.conf.*.sink.csv.directory=" + metrics);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("2 clips (0 already done), 2 rendered, 0 failed");

        List<Path> videos;
        try (Stream<Path> s = Files.list(dir.resolve("out/clips"))) {
            videos = s.filter(p -> p.toString().endsWith(".mp4")).toList();
        }
        assertThat(videos).hasSize(2);
        String revision = ModelRepo.resolve(model.toString(), dir.resolve("cache")).revision();
        double sparsitySum = 0;
        for (Path v : videos) {
            assertThat(Mp4Reader.read(v).frames()).hasSize(5);
            JsonNode sidecar = new ObjectMapper().readTree(Path.of(v.toString().replace(".mp4", ".json")).toFile());
            // clip ids carry the revision of the weights, the same as for the local folder
            assertThat(sidecar.at("/spec/model_revision").asText()).isEqualTo(revision);
            sparsitySum += sidecar.get("tile_sparsity").asDouble();
        }
        // staged once, into one folder, although two tasks rendered
        try (Stream<Path> s = Files.list(dir.resolve("staging"))) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith("."))).hasSize(1);
        }
        long modelBytes = 0;
        for (Path f : ModelUpload.files(model)) {
            modelBytes += Files.size(f);
        }
        assertThat(last(metrics, "stagedBytes")).isEqualTo(modelBytes);
        assertThat(last(metrics, "stagingReused")).isEqualTo(0);
        assertThat(last(metrics, "clipsRendered")).isEqualTo(2);
        assertThat(last(metrics, "clipsFailed")).isEqualTo(0);
        assertThat(last(metrics, "denoisingSteps")).isEqualTo(4);
        assertThat(last(metrics, "ditSeconds")).isGreaterThan(0);
        assertThat(last(metrics, "meanTileSparsity")).isGreaterThan(0).isCloseTo(sparsitySum / 2,
                org.assertj.core.api.Assertions.within(1e-9));
    }

    @Test
    void corruptedModelObjectStopsTheRunNamingTheFile() throws Exception {
        String bucket = upload();
        String file = "transformer/diffusion_pytorch_model.safetensors";
        byte[] bytes = Files.readAllBytes(model.resolve(file));
        bytes[100] ^= 1;
        try (var client = s3.client()) {
            ModelUpload.put(client, bucket, "models/wan-tiny/" + file, bytes);
        }
        CliTest.Result r = generate("s3a://" + bucket + "/models/wan-tiny");
        assertThat(r.code()).isEqualTo(Main.EXIT_FAILURE);
        assertThat(r.err()).contains("Cannot stage model s3a://" + bucket + "/models/wan-tiny: " + file + " has SHA-256 ",
                "(corrupted)");
        assertThat(dir.resolve("out/clips")).doesNotExist();
    }

    /** The last value a CsvSink wrote for one of the plugin's metrics (columns t,count or t,value). */
    private static double last(Path metrics, String name) throws Exception {
        Path csv = metrics.resolve(SOURCE + name + ".csv");
        assertThat(csv).as("metrics written: " + listing(metrics)).exists();
        List<String> lines = Files.readAllLines(csv);
        String[] cols = lines.get(lines.size() - 1).split(",");
        return Double.parseDouble(cols[1]);
    }

    private static List<String> listing(Path d) throws Exception {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
