package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.engine.video.Mp4Reader;
import io.sparserender.testing.LocalSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * generate --reference-fraction 1 with the tiny model on the CPU, then report over it: a dense clip compared with
 * its dense re-render is identical (infinite PSNR, SSIM 1, latent error 0); a clip whose policy really skips tiles
 * gets finite, plausible numbers; both land in the sidecars, the stats table and the report's scatter.
 */
class GenerateReferenceQualityTest {
    static final String SPARSE = "dynsparse:lambda=-1,br=16,bc=16";
    /** The canonical spellings the job records. */
    static final String DENSE_CANONICAL = "dense:br=64,bc=64,order=natural";
    static final String SPARSE_CANONICAL = SPARSE + ",order=natural";

    @TempDir
    Path dir;

    @AfterEach
    void stopEngine() {
        ExecutorEngine.shutdown();
    }

    @Test
    void denseAgainstItselfIsIdenticalAndASparsePolicyIsMeasured() throws Exception {
        Path prompts = dir.resolve("prompts.jsonl");
        Files.writeString(prompts, "{\"id\":\"d\",\"prompt\":\"a lighthouse in a storm\",\"policy\":\"dense\"}\n"
                + "{\"id\":\"s\",\"prompt\":\"a lighthouse in a storm\",\"policy\":\"" + SPARSE + "\"}\n");
        CliTest.Result gen = CliTest.run("generate", "--model", "wan-tiny", "--model-cache",
                dir.resolve("cache").toString(), "--out", dir.resolve("out").toString(), "--size", "128x64",
                "--frames", "5", "--steps", "2", "--seed", "3", "--run-id", "q1", "--reference-fraction", "1",
                "--prompts", prompts.toString());
        assertThat(gen.code()).as(gen.err()).isZero();
        assertThat(gen.out()).contains("2 clips (0 already done), 2 rendered, 0 failed",
                "quality: 2 rendered clips compared with a dense reference render (--reference-fraction 1.0)");

        Map<String, JsonNode> byPolicy = new HashMap<>();
        try (Stream<Path> s = Files.list(dir.resolve("out/clips"))) {
            for (Path p : s.filter(p -> p.getFileName().toString().matches("[0-9a-f]{32}\\.json")).toList()) {
                JsonNode n = new ObjectMapper().readTree(p.toFile());
                byPolicy.put(n.at("/spec/policy").asText(), n);
            }
        }
        assertThat(byPolicy).containsOnlyKeys(DENSE_CANONICAL, SPARSE_CANONICAL);
        JsonNode dense = byPolicy.get(DENSE_CANONICAL);
        JsonNode sparse = byPolicy.get(SPARSE_CANONICAL);

        JsonNode dq = dense.get("quality");
        assertThat(dq.get("psnr").asText()).isEqualTo("Infinity");
        assertThat(dq.get("ssim").asDouble()).isEqualTo(1.0);
        assertThat(dq.get("latent_rel_l2").asDouble()).isZero();
        assertThat(dq.get("flicker").asDouble()).isPositive().isEqualTo(dq.get("flicker_reference").asDouble());
        assertThat(dq.get("frames").asInt()).isEqualTo(5);
        assertThat(dq.get("reference_policy").asText()).isEqualTo(DENSE_CANONICAL);
        assertThat(dq.get("reference_clip_id").asText()).isEqualTo(dense.get("clip_id").asText());

        assertThat(sparse.get("tile_sparsity").asDouble()).as("the policy skips tiles on the tiny model").isPositive();
        JsonNode sq = sparse.get("quality");
        assertThat(sq.get("psnr").isNumber()).as(sq.toString()).isTrue();
        assertThat(sq.get("psnr").asDouble()).isBetween(15.0, 80.0);
        assertThat(sq.get("ssim").asDouble()).isBetween(0.5, 1.0).isLessThan(1.0);
        assertThat(sq.get("latent_rel_l2").asDouble()).isPositive().isLessThan(1.0);
        assertThat(sq.get("flicker").asDouble()).isPositive();
        // the sparse clip's reference is the dense clip: same spec, same frames, same flicker
        assertThat(sq.get("reference_clip_id").asText()).isEqualTo(dense.get("clip_id").asText());
        assertThat(sq.get("flicker_reference").asDouble()).isEqualTo(dq.get("flicker").asDouble());
        double referenceSeconds = sparse.at("/stage_seconds/reference").asDouble();
        assertThat(referenceSeconds).isPositive().isEqualTo(sq.get("reference_seconds").asDouble());
        // the clip's total is everything its executor spent on it, the dense re-render included
        assertThat(sparse.at("/stage_seconds/total").asDouble())
                .isGreaterThan(referenceSeconds + sparse.at("/stage_seconds/dit").asDouble());

        // the kept reference videos decode; the sparse clip's is the dense clip's video, frame for frame
        Path out = dir.resolve("out");
        Mp4Reader.Video denseVideo = Mp4Reader.read(out.resolve(dense.get("video").asText()));
        Mp4Reader.Video sparseReference = Mp4Reader.read(out.resolve(sq.get("reference_video").asText()));
        assertThat(sq.get("reference_video").asText()).isEqualTo("clips/" + sparse.get("clip_id").asText() + ".reference.mp4");
        assertThat(sparseReference.frames()).hasSize(5).usingRecursiveComparison().isEqualTo(denseVideo.frames());
        assertThat(Mp4Reader.read(out.resolve(dq.get("reference_video").asText())).frames())
                .usingRecursiveComparison().isEqualTo(denseVideo.frames());
        assertThat(Files.readString(out.resolve("runs/q1.json"))).contains("\"reference_renders\" : 2");

        Map<String, Row> stats = new HashMap<>();
        for (Row r : LocalSpark.get().read().parquet(out.resolve("stats/clips").toUri().toString()).collectAsList()) {
            stats.put(r.getAs("policy"), r);
        }
        assertThat(stats.get(DENSE_CANONICAL).<Double>getAs("psnr")).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(stats.get(DENSE_CANONICAL).<Double>getAs("ssim")).isEqualTo(1.0);
        assertThat(stats.get(SPARSE_CANONICAL).<Double>getAs("psnr")).isEqualTo(sq.get("psnr").asDouble());
        assertThat(stats.get(SPARSE_CANONICAL).<Double>getAs("ssim")).isEqualTo(sq.get("ssim").asDouble());
        assertThat(stats.get(SPARSE_CANONICAL).<Double>getAs("latent_rel_l2")).isEqualTo(sq.get("latent_rel_l2").asDouble());
        assertThat(stats.get(SPARSE_CANONICAL).<Double>getAs("flicker")).isEqualTo(sq.get("flicker").asDouble());
        assertThat(stats.get(SPARSE_CANONICAL).<Double>getAs("flicker_reference")).isEqualTo(sq.get("flicker_reference").asDouble());

        CliTest.Result rep = CliTest.run("report", "--stats", out.toString(), "--runs", "q1", "--out",
                dir.resolve("report").toString());
        assertThat(rep.code()).as(rep.err()).isZero();
        String html = Files.readString(dir.resolve("report/report.html"));
        String scatter = html.substring(html.indexOf("<section id=\"chart-scatter\""), html.indexOf("<section id=\"chart-error\""));
        assertThat(scatter).doesNotContain("class=\"empty\"")
                .contains("1 of 2 reference clips are identical to their dense render")
                .contains("<title>" + SPARSE_CANONICAL + " " + sparse.get("clip_id").asText() + " (PSNR ")
                .contains("<title>" + DENSE_CANONICAL + " " + dense.get("clip_id").asText() + " (PSNR ∞ dB, SSIM 1.0000");
    }

    @Test
    void referenceFractionOutsideZeroToOneIsAUsageErrorNamingTheFlag() {
        for (String bad : new String[] {"1.5", "-0.25", "NaN"}) {
            CliTest.Result r = CliTest.run("generate", "--model", "wan-tiny", "--out", dir.resolve("o").toString(),
                    "--prompt", "x", "--reference-fraction", bad);
            assertThat(r.code()).as(bad).isEqualTo(Main.EXIT_USAGE);
            assertThat(r.err()).contains("Invalid --reference-fraction " + Double.parseDouble(bad) + ": must be in [0, 1]");
        }
        CliTest.Result word = CliTest.run("generate", "--model", "wan-tiny", "--out", dir.resolve("o").toString(),
                "--prompt", "x", "--reference-fraction", "half");
        assertThat(word.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(word.err()).contains("--reference-fraction");
    }
}
