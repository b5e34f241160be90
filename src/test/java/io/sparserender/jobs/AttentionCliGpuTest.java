package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.attention.VideoLikeInputs;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.testing.GpuTestDevice;
import io.sparserender.testing.RequiresGpu;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sparse-render attention --backend cuda} and {@code bench attention} on the device, in-process:
 * the same statistics as the cpu backend on a bf16 input (which both backends read exactly), every policy
 * kind through the sweep, and the benchmark over every kind of spec.
 */
@RequiresGpu
class AttentionCliGpuTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final VideoGrid GRID = new VideoGrid(4, 12, 20); // L = 960

    @TempDir
    Path dir;

    /** The CLI reuses an open device: open the tests' one (4 GiB arena, checked launches) first. */
    @BeforeAll
    static void openTheTestDevice() {
        GpuTestDevice.ops();
    }

    private Path bf16Input() {
        QkvInput in = VideoLikeInputs.videoLike(1, GRID, 2, 128, VideoLikeInputs.Knobs.defaults(), 17);
        Path p = dir.resolve("qkv.safetensors");
        new SafetensorsWriter().add("q", in.q(), DType.BF16).add("k", in.k(), DType.BF16).add("v", in.v(), DType.BF16).write(p);
        return p;
    }

    @Test
    void topkOnCudaGivesTheCpuBackendsStatistics() throws Exception {
        Path in = bf16Input();
        for (String spec : new String[] {"topk:k=3,bc=32,order=local", "topp:p=0.8,bc=64"}) {
            Path cpuStats = dir.resolve("cpu.json");
            Path gpuStats = dir.resolve("gpu.json");
            Path gpuOut = dir.resolve("o.safetensors");
            CliTest.Result cpu = CliTest.run("attention", "--qkv", in.toString(), "--grid", "4,12,20", "--policy", spec,
                    "--stats", cpuStats.toString(), "--exact-stats");
            CliTest.Result gpu = CliTest.run("attention", "--backend", "cuda", "--qkv", in.toString(), "--grid", "4,12,20",
                    "--policy", spec, "--stats", gpuStats.toString(), "--exact-stats", "--out", gpuOut.toString());
            assertThat(cpu.code()).as(cpu.err()).isZero();
            assertThat(gpu.code()).as(gpu.err()).isZero();
            JsonNode c = JSON.readTree(cpuStats.toFile());
            JsonNode g = JSON.readTree(gpuStats.toFile());
            assertThat(g.fieldNames()).toIterable().containsExactlyElementsOf(() -> c.fieldNames());
            // No in-loop rule and a bit-exact plan: the same tiles, hence the same recall.
            for (String f : List.of("policy", "tiles_total", "tiles_skipped_in_loop", "tiles_skipped_before_qk", "tile_sparsity",
                    "compute_saved", "recall_mean", "recall_p05", "recall_min")) {
                assertThat(g.get(f)).as(spec + " " + f).isEqualTo(c.get(f));
            }
            assertThat(g.get("tiles_skipped_before_qk").asLong()).as(spec).isPositive();
            assertThat(g.get("rel_l2_vs_dense").asDouble()).as(spec).isCloseTo(c.get("rel_l2_vs_dense").asDouble(), within(5e-3));
            // The summary line has the same fields; the output is written as F32 with its backend named.
            assertThat(gpu.out().replaceAll("[0-9.e+-]+", "#")).isEqualTo(cpu.out().replaceAll("[0-9.e+-]+", "#"));
            try (SafetensorsFile f = SafetensorsFile.open(gpuOut)) {
                assertThat(f.info("o").dtype()).isEqualTo(DType.F32);
                assertThat(f.info("o").shape()).containsExactly(1, GRID.tokens(), 2, 128);
                assertThat(f.metadata()).containsEntry("backend", "cuda");
            }
        }
    }

    @Test
    void sweepRunsEveryKindOfPolicyOnCuda() throws Exception {
        Path in = bf16Input();
        Path stats = dir.resolve("sweep.json");
        String specs = "dense;recall:r=0.95,bound=binned,order=local;recall:r=0.95,bound=exact,bc=32;hybrid:r=0.95;"
                + "topp:p=0.9,order=estimate;dynsparse:lambda=-9,bc=32";
        CliTest.Result r = CliTest.run("attention", "--backend", "cuda", "--qkv", in.toString(), "--grid", "4,12,20",
                "--sweep", specs, "--stats", stats.toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode rows = JSON.readTree(stats.toFile());
        assertThat(rows).hasSize(6);
        assertThat(rows.get(0).get("tile_sparsity").asDouble()).isZero();
        assertThat(rows.get(0).get("rel_l2_vs_dense").asDouble()).as("bf16 inputs, fp32 accumulation").isLessThan(1e-2);
        for (int i : new int[] {1, 2}) {
            // recall's guarantee holds on the device too (its decisions are made on the device's own sums)
            assertThat(rows.get(i).get("recall_min").asDouble()).as(rows.get(i).get("policy").asText()).isGreaterThanOrEqualTo(0.95);
        }
        assertThat(r.out().split("\n")[0]).startsWith("policy").contains("oracle@recall_min");
    }

    @Test
    void benchAttentionRunsEveryKindOfSpec() {
        String policies = "dense:br=64,bc=64;topk:k=4,br=64,bc=32,order=local;topp:p=0.9,br=64,bc=64;"
                + "hybrid:r=0.95,bound=binned,br=64,bc=32;recall:r=0.95,bound=exact,br=64,bc=64,order=estimate";
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        CliTest.Result r;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8)); // the benchmark prints its JSON lines there
            r = CliTest.run("bench", "attention", "--shape", "1:4x12x20:2:128", "--policy", policies, "--warmups", "0",
                    "--iters", "1", "--gen-heads", "2");
        } finally {
            System.setOut(stdout);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertThat(r.code()).as(r.err()).isZero();
        for (String spec : policies.split(";")) {
            String canonical = io.sparserender.engine.attention.PolicySpec.parse(spec).spec();
            assertThat(out).as(spec).contains("\"policy\":\"" + canonical + "\"");
        }
        assertThat(out).contains("\"plan_ms\":", "\"skipped_before_qk\":", "\"impl\":\"ours-mma-sync\"");
    }
}
