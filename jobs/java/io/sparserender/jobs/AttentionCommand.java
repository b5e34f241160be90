package io.sparserender.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.AttentionResult;
import io.sparserender.engine.attention.AttentionStats;
import io.sparserender.engine.attention.DenseReference;
import io.sparserender.engine.attention.ExactRecall;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.attention.PolicySweep;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.TiledAttention;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.gpu.CudaAttention;
import io.sparserender.engine.gpu.CudaAttentionHost;
import io.sparserender.engine.gpu.CudaDevice;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.engine.weights.WeightsException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparse-render attention}: runs one sparse-attention policy (or a sweep of them) over Q/K/V
 * dumped to a safetensors file, writes {@code o} and the statistics. Thin: parse, call the engine
 * ({@code io.sparserender.engine.attention} on the CPU, {@code io.sparserender.engine.gpu.CudaAttentionHost}
 * with {@code --backend cuda}), write. Both backends print and write the same statistics.
 */
@Command(name = "attention", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Run sparse attention over dumped Q/K/V tensors and report its statistics.",
            "Input: tensors q, k, v [B, L, H, D] (F32, F16 or BF16); output o as F32.",
            "Policy spec: name[:key=value,...]; names and keys:",
            "  dense | topk (k) | topp (p) | blasst (scale) | dynsparse (lambda or preal)",
            "  | recall (r, bound=max|exact|binned) | hybrid (r, bound, pre);",
            "  all take br, bc (default 64) and order=natural|local|estimate.",
            "Example: --policy recall:r=0.95,bound=exact,order=local --grid 4,24,24",
            "--backend cuda runs the CUDA kernels (every policy; br=64, bc 32 or 64, D 64 or 128), q, k, v rounded to bf16."})
final class AttentionCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--qkv", required = true, paramLabel = "IN.safetensors",
            description = "Safetensors file holding q, k and v, each [B, L, H, D].")
    Path qkv;

    @Option(names = "--policy", paramLabel = "SPEC", description = "Policy spec (default: ${DEFAULT-VALUE}).",
            defaultValue = "dense")
    String policy;

    @Option(names = "--sweep", paramLabel = "SPECS",
            description = "Run a list of policy specs, separated by ';', over the same input and print one table row "
                    + "per spec: policy, tile sparsity, compute saved, recall mean/p05/min, error vs dense, and the "
                    + "oracle's sparsity at the spec's minimum recall; then the oracle at r = 0.90/0.95/0.99 per "
                    + "tiling. Exact statistics are always computed. Not with --policy or --out.")
    String sweep;

    @Option(names = "--sweep-file", paramLabel = "FILE",
            description = "Like --sweep, the specs read from FILE, one per line ('#' starts a comment line).")
    Path sweepFile;

    @Option(names = "--grid", paramLabel = "F,R,C",
            description = "Token grid (frames, rows, columns), F·R·C = L; needed by order=local.")
    String grid;

    @Option(names = "--out", paramLabel = "OUT.safetensors", description = "Write the output tensor o (F32).")
    Path out;

    @Option(names = "--stats", paramLabel = "STATS.json",
            description = "Write the statistics as JSON (an array of rows with --sweep).")
    Path stats;

    @Option(names = "--exact-stats",
            description = "Also compute exact per-row recall and the error versus dense (one dense float64 pass).")
    boolean exactStats;

    @Option(names = "--backend", paramLabel = "cpu|cuda", defaultValue = "cpu",
            description = "Where to run (default: ${DEFAULT-VALUE}): cpu = the float32 reference; cuda = the GPU kernels "
                    + "(q, k, v rounded to bf16 on upload; exact statistics still compare with the float64 dense pass over "
                    + "the inputs as given, so rel_l2_vs_dense includes that rounding).")
    String backend;

    @Option(names = "--markdown", description = "With --sweep: print the table as Markdown.")
    boolean markdown;

    @Override
    public Integer call() {
        if (!backend.equals("cpu") && !backend.equals("cuda")) {
            throw new UsageException("Invalid --backend '" + backend + "': expected cpu or cuda");
        }
        boolean policyGiven = spec.commandLine().getParseResult().hasMatchedOption("--policy");
        if (sweep != null && sweepFile != null) {
            throw new UsageException("--sweep cannot be combined with --sweep-file");
        }
        if (sweepFile != null) {
            try {
                sweep = Files.readString(sweepFile);
            } catch (IOException e) {
                throw new UsageException("Cannot read --sweep-file " + sweepFile + ": " + e.getMessage());
            }
        }
        if (sweep != null && (policyGiven || out != null)) {
            throw new UsageException("--sweep cannot be combined with " + (policyGiven ? "--policy" : "--out"));
        }
        List<AttentionPolicy> policies = parsePolicies();
        AttentionOptions options = AttentionOptions.withGrid(grid == null ? null : parseGrid());
        boolean cuda = backend.equals("cuda");
        QkvInput in = read(qkv);
        if (options.grid() != null && options.grid().tokens() != in.seqLen()) {
            throw new UsageException("Invalid --grid " + grid + ": " + options.grid().tokens() + " tokens, but the input has L = "
                    + in.seqLen());
        }
        for (AttentionPolicy p : policies) {
            String why = cuda ? CudaAttention.refusal(p, in.headDim()) : null;
            if (why != null) {
                throw new UsageException("Invalid policy '" + p.spec() + "' for --backend cuda: " + why);
            }
        }
        CudaAttentionHost gpu = cuda ? openGpu(in, policies) : null;
        PrintWriter stdout = spec.commandLine().getOut();
        if (sweep != null) {
            PolicySweep sw = new PolicySweep(in, options);
            List<PolicySweep.Row> rows = new ArrayList<>();
            for (AttentionPolicy p : policies) {
                if (gpu == null) {
                    rows.add(sw.run(p));
                } else {
                    CudaAttentionHost.Result r = gpu.run(in, p, options);
                    rows.add(sw.row(p, r.stats(), r.mask(), r.o()));
                }
            }
            stdout.print(PolicySweep.format(rows, sw.oracles(rows), markdown));
            stdout.flush();
            if (stats != null) {
                List<Map<String, Object>> json = new ArrayList<>();
                for (PolicySweep.Row r : rows) {
                    Map<String, Object> m = r.stats().toMap();
                    m.put("oracle_at_recall_min", r.oracleAtMin());
                    json.add(m);
                }
                writeJson(stats, json);
            }
            return Main.EXIT_OK;
        }
        AttentionPolicy p = policies.get(0);
        Tensor o;
        AttentionStats st;
        if (gpu == null) {
            AttentionResult result = TiledAttention.run(in, p, options);
            o = result.o();
            st = exactStats ? ExactRecall.of(in, result) : result.stats();
        } else {
            CudaAttentionHost.Result result = gpu.run(in, p, options);
            o = result.o();
            st = exactStats ? ExactRecall.of(DenseReference.compute(in, p.tiling().bc()), result.stats(), result.mask(), o)
                    : result.stats();
        }
        if (out != null) {
            new SafetensorsWriter().metadata("policy", p.spec()).metadata("backend", backend).add("o", o, DType.F32).write(out);
        }
        if (stats != null) {
            writeJson(stats, st.toMap());
        }
        stdout.println(summary(st));
        stdout.flush();
        return Main.EXIT_OK;
    }

    /** The device, with an arena sized for this input at the smallest bc among the policies. */
    private CudaAttentionHost openGpu(QkvInput in, List<AttentionPolicy> policies) {
        int minBc = policies.stream().mapToInt(p -> p.tiling().bc()).min().orElse(64);
        CudaDevice dev = CudaDevice.open(CudaDevice.Options.defaults()
                .withArenaBytes(CudaAttentionHost.arenaBytes(in, minBc)));
        return new CudaAttentionHost(dev);
    }

    private List<AttentionPolicy> parsePolicies() {
        try {
            if (sweep == null) {
                return List.of(PolicySpec.parse(policy));
            }
            return PolicySpec.parseList(sweep);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    private VideoGrid parseGrid() {
        try {
            return VideoGrid.parse(grid);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage().replace("Invalid grid", "Invalid --grid"));
        }
    }

    /** Reads q, k, v (F32, F16 or BF16) as float32; every problem names the file and tensor. */
    static QkvInput read(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Tensor[] t = new Tensor[3];
            String[] names = {"q", "k", "v"};
            for (int i = 0; i < 3; i++) {
                if (!f.contains(names[i])) {
                    throw new WeightsException("Cannot read " + file + ": tensor '" + names[i] + "' is missing (need q, k, v)");
                }
                DType dt = f.info(names[i]).dtype();
                if (dt != DType.F32 && dt != DType.F16 && dt != DType.BF16) {
                    throw new WeightsException("Cannot read " + file + ": tensor '" + names[i] + "' has dtype " + dt
                            + ", expected F32, F16 or BF16");
                }
                t[i] = f.readTensor(names[i]);
            }
            try {
                return new QkvInput(t[0], t[1], t[2]);
            } catch (IllegalArgumentException e) {
                throw new WeightsException(e.getMessage() + " in " + file);
            }
        }
    }

    private static void writeJson(Path path, Object value) {
        Path dir = path.toAbsolutePath().getParent();
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "." + path.getFileName(), ".tmp");
            try {
                JSON.writeValue(tmp.toFile(), value);
                Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new IllegalStateException("Cannot write --stats " + path + ": " + e.getMessage(), e);
        }
    }

    private static String summary(AttentionStats s) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "%s  L=%d heads=%d batch=%d  tiles %d, skipped in loop %d, before QK %d  tile_sparsity %.1f%%  compute_saved %.1f%%",
                s.policy(), s.seqLen(), s.heads(), s.batch(), s.tilesTotal(), s.tilesSkippedInLoop(), s.tilesSkippedBeforeQk(),
                100 * s.tileSparsity(), 100 * s.computeSaved()));
        if (s.hasExact()) {
            sb.append(String.format(Locale.ROOT, "  recall mean %.4f p05 %.4f min %.4f  rel_l2_vs_dense %.2e",
                    s.recallMean(), s.recallP05(), s.recallMin(), s.relL2VsDense()));
        }
        return sb.toString();
    }
}
