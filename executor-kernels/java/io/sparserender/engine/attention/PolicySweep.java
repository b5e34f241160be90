package io.sparserender.engine.attention;

import io.sparserender.engine.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Runs several policies over one input with exact statistics, sharing one {@link DenseReference} per
 * kv-tile size, and sets each result beside the oracle ({@link Oracle}) at the recall the policy
 * actually reached (its minimum row recall): "how many tiles could have been skipped for the same
 * worst-row quality". Also gives the oracle at fixed recalls per tiling.
 */
public final class PolicySweep {
    /** Recall targets at which {@link #oracles} reports the oracle. */
    public static final double[] ORACLE_RECALLS = {0.9, 0.95, 0.99};

    /** One policy's statistics (exact part filled) and the oracle's tile sparsity at its recall_min. */
    public record Row(AttentionPolicy policy, AttentionStats stats, double oracleAtMin) {
        public Row {
            Objects.requireNonNull(policy, "policy is null");
            Objects.requireNonNull(stats, "stats is null");
        }
    }

    /** The oracle's tile sparsity for a tiling at each of {@link #ORACLE_RECALLS}. */
    public record OracleLine(int br, int bc, double[] sparsity) {}

    private final QkvInput input;
    private final AttentionOptions options;
    private final Map<Integer, DenseReference> references = new HashMap<>();

    public PolicySweep(QkvInput input, AttentionOptions options) {
        this.input = Objects.requireNonNull(input, "input is null");
        this.options = Objects.requireNonNull(options, "options is null");
    }

    public Row run(AttentionPolicy policy) {
        AttentionResult r = TiledAttention.run(input, policy, options);
        return row(policy, r.stats(), r.mask(), r.o());
    }

    /** The row of a call that ran elsewhere (e.g. on the GPU) over this sweep's input. */
    public Row row(AttentionPolicy policy, AttentionStats callStats, TileMask mask, Tensor o) {
        AttentionStats stats = ExactRecall.of(reference(policy.tiling().bc()), callStats, mask, o);
        double oracle = Oracle.tileSparsity(reference(policy.tiling().bc()), policy.tiling().br(), stats.recallMin());
        return new Row(policy, stats, oracle);
    }

    public List<Row> runAll(List<AttentionPolicy> policies) {
        List<Row> rows = new ArrayList<>();
        for (AttentionPolicy p : policies) {
            rows.add(run(p));
        }
        return rows;
    }

    /** The oracle lines for every distinct (br, bc) among the rows. */
    public List<OracleLine> oracles(List<Row> rows) {
        Map<String, OracleLine> out = new LinkedHashMap<>();
        for (Row row : rows) {
            Tiling t = row.policy().tiling();
            out.computeIfAbsent(t.br() + "x" + t.bc(), key -> {
                double[] s = new double[ORACLE_RECALLS.length];
                for (int i = 0; i < s.length; i++) {
                    s[i] = Oracle.tileSparsity(reference(t.bc()), t.br(), ORACLE_RECALLS[i]);
                }
                return new OracleLine(t.br(), t.bc(), s);
            });
        }
        return new ArrayList<>(out.values());
    }

    /** The dense float64 reference for kv-tiles of bc keys (computed once per bc). */
    public DenseReference reference(int bc) {
        return references.computeIfAbsent(bc, b -> DenseReference.compute(input, b));
    }

    /** An aligned text table of the rows, then the oracle lines; {@code markdown} gives a Markdown table. */
    public static String format(List<Row> rows, List<OracleLine> oracles, boolean markdown) {
        String[] head = {"policy", "tile_sparsity", "compute_saved", "recall_mean", "recall_p05", "recall_min",
            "rel_l2_vs_dense", "oracle@recall_min"};
        List<String[]> cells = new ArrayList<>();
        for (Row r : rows) {
            AttentionStats s = r.stats();
            cells.add(new String[] {r.policy().spec(), pct(s.tileSparsity()), pct(s.computeSaved()),
                fmt("%.4f", s.recallMean()), fmt("%.4f", s.recallP05()), fmt("%.4f", s.recallMin()),
                fmt("%.2e", s.relL2VsDense()), pct(r.oracleAtMin())});
        }
        StringBuilder sb = new StringBuilder();
        if (markdown) {
            sb.append("| ").append(String.join(" | ", head)).append(" |\n");
            sb.append("|---".repeat(head.length)).append("|\n");
            for (String[] c : cells) {
                sb.append("| ").append(String.join(" | ", c)).append(" |\n");
            }
        } else {
            int[] w = new int[head.length];
            for (int i = 0; i < head.length; i++) {
                w[i] = head[i].length();
                for (String[] c : cells) {
                    w[i] = Math.max(w[i], c[i].length());
                }
            }
            appendAligned(sb, head, w);
            for (String[] c : cells) {
                appendAligned(sb, c, w);
            }
        }
        for (OracleLine o : oracles) {
            sb.append(markdown ? "\n" : "").append("oracle ").append(o.br()).append('x').append(o.bc()).append(':');
            for (int i = 0; i < ORACLE_RECALLS.length; i++) {
                sb.append(String.format(Locale.ROOT, " r=%.2f %s", ORACLE_RECALLS[i], pct(o.sparsity()[i])));
                sb.append(i + 1 < ORACLE_RECALLS.length ? "," : "");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static void appendAligned(StringBuilder sb, String[] c, int[] w) {
        for (int i = 0; i < c.length; i++) {
            String pad = " ".repeat(w[i] - c[i].length());
            sb.append(i == 0 ? c[i] + pad : pad + c[i]);
            sb.append(i + 1 < c.length ? "  " : "\n");
        }
    }

    static String pct(double v) {
        return String.format(Locale.ROOT, "%.1f%%", 100 * v);
    }

    private static String fmt(String f, Double v) {
        return v == null ? "-" : String.format(Locale.ROOT, f, v);
    }
}
