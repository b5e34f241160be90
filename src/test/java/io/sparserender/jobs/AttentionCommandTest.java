package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.TiledAttention;
import io.sparserender.engine.attention.VideoLikeInputs;
import io.sparserender.engine.gpu.GpuEnvironment;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.engine.weights.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AttentionCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final QkvInput INPUT = VideoLikeInputs.random(1, 150, 2, 32, 1.5, 9);

    @TempDir
    Path dir;

    private Path write(String name, DType dtype, Tensor q, Tensor k, Tensor v) {
        Path p = dir.resolve(name);
        SafetensorsWriter w = new SafetensorsWriter();
        if (q != null) {
            w.add("q", q, dtype);
        }
        if (k != null) {
            w.add("k", k, dtype);
        }
        if (v != null) {
            w.add("v", v, dtype);
        }
        w.write(p);
        return p;
    }

    private Path qkv() {
        return write("qkv.safetensors", DType.F32, INPUT.q(), INPUT.k(), INPUT.v());
    }

    @Test
    void writesOutputAndStatsMatchingTheEngine() throws Exception {
        Path out = dir.resolve("o.safetensors");
        Path stats = dir.resolve("stats.json");
        CliTest.Result r = CliTest.run("attention", "--qkv", qkv().toString(), "--policy", "recall:r=0.9,bc=16,br=32",
                "--out", out.toString(), "--stats", stats.toString(), "--exact-stats");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("recall:r=0.9,bound=max,br=32,bc=16,order=natural", "tile_sparsity", "recall mean");
        float[] expected = TiledAttention.run(INPUT, PolicySpec.parse("recall:r=0.9,bc=16,br=32"), AttentionOptions.NONE).o().data();
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertThat(f.info("o").dtype()).isEqualTo(DType.F32);
            assertThat(f.info("o").shape()).containsExactly(1, 150, 2, 32);
            assertThat(f.readFloats("o")).containsExactly(expected);
        }
        JsonNode s = JSON.readTree(stats.toFile());
        assertThat(s.get("policy").asText()).isEqualTo("recall:r=0.9,bound=max,br=32,bc=16,order=natural");
        assertThat(s.get("br").asInt()).isEqualTo(32);
        assertThat(s.get("bc").asInt()).isEqualTo(16);
        assertThat(s.get("seq_len").asInt()).isEqualTo(150);
        assertThat(s.get("heads").asInt()).isEqualTo(2);
        assertThat(s.get("tiles_total").asLong()).isEqualTo(2L * 5 * 10);
        for (String f : new String[] {"tiles_skipped_in_loop", "tiles_skipped_before_qk", "tile_sparsity", "compute_saved",
            "recall_mean", "recall_p05", "recall_min", "rel_l2_vs_dense"}) {
            assertThat(s.get(f).isNumber()).as(f).isTrue();
        }
        assertThat(s.get("recall_min").asDouble()).isGreaterThanOrEqualTo(0.9);
    }

    @Test
    void readsBf16AndLeavesExactStatsNullWhenNotAsked() throws Exception {
        Path in = write("bf16.safetensors", DType.BF16, INPUT.q(), INPUT.k(), INPUT.v());
        Path stats = dir.resolve("s.json");
        CliTest.Result r = CliTest.run("attention", "--qkv", in.toString(), "--stats", stats.toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode s = JSON.readTree(stats.toFile());
        assertThat(s.get("policy").asText()).startsWith("dense:");
        assertThat(s.get("tile_sparsity").asDouble()).isZero();
        assertThat(s.get("recall_mean").isNull()).isTrue();
    }

    @Test
    void sweepPrintsOneRowPerSpecAndTheOracle() throws Exception {
        Path stats = dir.resolve("sweep.json");
        CliTest.Result r = CliTest.run("attention", "--qkv", qkv().toString(), "--sweep",
                "dense:bc=16; recall:r=0.9,bc=16 ;topk:k=2,bc=16", "--stats", stats.toString());
        assertThat(r.code()).as(r.err()).isZero();
        String[] lines = r.out().split("\n");
        assertThat(lines).hasSize(5);
        assertThat(lines[0]).startsWith("policy").contains("tile_sparsity", "compute_saved", "recall_mean", "recall_p05",
                "recall_min", "rel_l2_vs_dense", "oracle@recall_min");
        assertThat(lines[1]).startsWith("dense:");
        assertThat(lines[2]).startsWith("recall:");
        assertThat(lines[3]).startsWith("topk:");
        assertThat(lines[4]).startsWith("oracle 64x16: r=0.90");
        assertThat(lines[1].length()).isEqualTo(lines[0].length());
        assertThat(JSON.readTree(stats.toFile())).hasSize(3);

        Path list = dir.resolve("specs.txt");
        Files.writeString(list, "# two policies\ndense\nblasst:scale=20\n");
        CliTest.Result fromFile = CliTest.run("attention", "--qkv", qkv().toString(), "--sweep-file", list.toString(), "--markdown");
        assertThat(fromFile.code()).as(fromFile.err()).isZero();
        assertThat(fromFile.out()).startsWith("| policy |").contains("| blasst:scale=20,");
    }

    @Test
    void badInputsAreOneLineErrorsNamingTheProblem() {
        Tensor q = INPUT.q();
        Path noV = write("nov.safetensors", DType.F32, q, q, null);
        expectFailure(Main.EXIT_FAILURE, "tensor 'v' is missing", "--qkv", noV.toString());
        Path shape = write("shape.safetensors", DType.F32, q, q, Tensor.zeros(1, 150, 2, 16));
        expectFailure(Main.EXIT_FAILURE, "tensor 'v' has shape [1, 150, 2, 16], expected the shape of 'q' [1, 150, 2, 32]",
                "--qkv", shape.toString());
        Tensor nan = Tensor.zeros(1, 150, 2, 32);
        nan.data()[70] = Float.POSITIVE_INFINITY;
        Path inf = write("inf.safetensors", DType.F32, q, nan, q);
        expectFailure(Main.EXIT_FAILURE, "tensor 'k' holds Infinity at [0, 1, 0, 6]", "--qkv", inf.toString());
        Path ok = qkv();
        expectFailure(Main.EXIT_USAGE, "Invalid policy spec 'recall:r=0.9,x=1': unknown key 'x'",
                "--qkv", ok.toString(), "--policy", "recall:r=0.9,x=1");
        expectFailure(Main.EXIT_USAGE, "Invalid policy spec 'recall:r=1.5': r must be in (0, 1], got 1.5",
                "--qkv", ok.toString(), "--policy", "recall:r=1.5");
        expectFailure(Main.EXIT_USAGE, "Invalid policy spec 'nope': unknown policy 'nope'",
                "--qkv", ok.toString(), "--sweep", "dense;nope");
        expectFailure(Main.EXIT_FAILURE, "order=local needs the token grid", "--qkv", ok.toString(), "--policy",
                "recall:r=0.9,order=local");
        expectFailure(Main.EXIT_USAGE, "Invalid --grid 2,5,14: 140 tokens, but the input has L = 150",
                "--qkv", ok.toString(), "--grid", "2,5,14");
        expectFailure(Main.EXIT_USAGE, "Invalid policy 'dense:br=64,bc=64,order=natural' for --backend cuda: head dim 32 "
                + "(the kernels have 64 and 128)", "--qkv", ok.toString(), "--backend", "cuda");
        expectFailure(Main.EXIT_USAGE, "Invalid --backend 'tpu': expected cpu or cuda", "--qkv", ok.toString(), "--backend", "tpu");
        expectFailure(Main.EXIT_USAGE, "--sweep cannot be combined with --out",
                "--qkv", ok.toString(), "--sweep", "dense", "--out", dir.resolve("x.safetensors").toString());
        expectFailure(Main.EXIT_FAILURE, "no such file", "--qkv", dir.resolve("missing.safetensors").toString());
        assertThat(dir.resolve("x.safetensors")).doesNotExist();
        CliTest.Result grid = CliTest.run("attention", "--qkv", ok.toString(), "--grid", "2,5,15", "--policy",
                "recall:r=0.9,order=local,bc=16");
        assertThat(grid.code()).as(grid.err()).isZero();
    }

    @Test
    void cudaBackendChecksTheTilingThenNeedsADevice() {
        QkvInput d64 = VideoLikeInputs.random(1, 100, 1, 64, 1.0, 3);
        Path in = write("d64.safetensors", DType.F32, d64.q(), d64.k(), d64.v());
        expectFailure(Main.EXIT_USAGE, "Invalid policy 'topk:k=2,br=64,bc=16,order=natural' for --backend cuda: tiling br=64, bc=16 "
                + "(the kernels have br=64, bc=32 or 64; br=128 for listed policies on ws)", "--qkv", in.toString(), "--backend", "cuda", "--policy", "topk:k=2,bc=16");
        assumeFalse(GpuEnvironment.probe().driverAvailable() && !GpuEnvironment.probe().devices().isEmpty(),
                "a GPU is present: the call would run (AttentionCliGpuTest covers it)");
        expectFailure(Main.EXIT_FAILURE, "No CUDA device", "--qkv", in.toString(), "--backend", "cuda", "--policy",
                "hybrid:r=0.95,bc=32");
    }

    private static void expectFailure(int code, String message, String... args) {
        String[] full = new String[args.length + 1];
        full[0] = "attention";
        System.arraycopy(args, 0, full, 1, args.length);
        CliTest.Result r = CliTest.run(full);
        assertThat(r.code()).as(r.err()).isEqualTo(code);
        String first = r.err().split("\n")[0];
        assertThat(first).startsWith("sparse-render attention: ").contains(message);
        assertThat(r.err()).doesNotContain("Exception").doesNotContain("\tat ");
        if (code == Main.EXIT_FAILURE) {
            assertThat(r.err().strip().split("\n")).hasSize(1);
        }
    }
}
