package io.sparserender.engine.attention;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The policy comparison of docs/BENCHMARKS.md: on video-like inputs, each policy family is swept over
 * its parameter, every point measured with exact statistics, and the tile sparsity at which the family
 * reaches a target measured recall is read off (linear interpolation between the two neighbouring
 * points of the sweep where the recall crosses the target), beside the oracle at the same target.
 * A quality study, not a speed one. Run (after {@code mvn -o compile}):
 * <pre>
 *   java -cp target/classes io.sparserender.engine.attention.SparsityStudy [--grid 4,24,24] [--heads 2]
 *        [--dim 128] [--tile 64] [--peaks 16,32] [--seed 1]
 * </pre>
 * Prints Markdown: per input, a summary table, then every measured point.
 */
public final class SparsityStudy {
    private static final double[] TARGETS = {0.95, 0.99};

    private SparsityStudy() {}

    /** A family: a label and its specs from conservative to aggressive. */
    record Family(String label, List<String> specs, boolean withPrior) {}

    public static void main(String[] args) {
        Map<String, String> opt = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            opt.put(args[i], args[i + 1]);
        }
        VideoGrid grid = VideoGrid.parse(opt.getOrDefault("--grid", "4,24,24"));
        int heads = Integer.parseInt(opt.getOrDefault("--heads", "2"));
        int dim = Integer.parseInt(opt.getOrDefault("--dim", "128"));
        int tile = Integer.parseInt(opt.getOrDefault("--tile", "64"));
        long seed = Long.parseLong(opt.getOrDefault("--seed", "1"));
        String tiles = "br=" + tile + ",bc=" + tile;
        int seqLen = grid.tokens();
        for (String peakText : opt.getOrDefault("--peaks", "16,32").split(",")) {
            double peak = Double.parseDouble(peakText);
            VideoLikeInputs.Knobs knobs = VideoLikeInputs.Knobs.defaults().withPeak(peak);
            QkvInput in = VideoLikeInputs.videoLike(1, grid, heads, dim, knobs, seed);
            QkvInput previous = VideoLikeInputs.perturbed(in, 0.2, seed + 1000);
            long t0 = System.nanoTime();
            TileMassTable prior = DenseReference.compute(previous, tile).tileMassTable(tile);
            PolicySweep plain = new PolicySweep(in, AttentionOptions.withGrid(grid));
            PolicySweep withPrior = new PolicySweep(in, new AttentionOptions(grid, prior));
            System.out.printf(Locale.ROOT, "%n### Video-like input: grid %s (L = %d), %d heads × %d, %s, peak %s, tilt %s, "
                    + "noise %s, %d sinks at %s nats, seed %d%n%n", grid, seqLen, heads, dim, tiles.replace(",", " "),
                    PolicySpec.num(peak), PolicySpec.num(knobs.tilt()), PolicySpec.num(knobs.noise()), knobs.sinks(),
                    PolicySpec.num(knobs.sinkLogit()), seed);
            List<Family> families = families(tiles, seqLen);
            Map<Family, List<PolicySweep.Row>> results = new LinkedHashMap<>();
            for (Family f : families) {
                List<PolicySweep.Row> rows = new ArrayList<>();
                for (String spec : f.specs()) {
                    rows.add((f.withPrior() ? withPrior : plain).run(PolicySpec.parse(spec)));
                }
                results.put(f, rows);
                System.err.printf(Locale.ROOT, "peak %s: %s done, %.0f s%n", peakText, f.label(), (System.nanoTime() - t0) / 1e9);
            }
            DenseReference ref = plain.reference(tile);
            StringBuilder head = new StringBuilder("| family |");
            StringBuilder rule = new StringBuilder("|---|");
            for (double t : TARGETS) {
                head.append(String.format(Locale.ROOT, " sparsity at p05 ≥ %.2f | sparsity at min ≥ %.2f |", t, t));
                rule.append("---|---|");
            }
            System.out.println(head);
            System.out.println(rule);
            StringBuilder oracle = new StringBuilder("| **oracle** (greedy, exact masses) |");
            for (double t : TARGETS) {
                String o = PolicySweep.pct(Oracle.tileSparsity(ref, tile, t));
                oracle.append(' ').append(o).append(" | ").append(o).append(" |");
            }
            System.out.println(oracle);
            for (Map.Entry<Family, List<PolicySweep.Row>> e : results.entrySet()) {
                StringBuilder line = new StringBuilder("| " + e.getKey().label() + " |");
                for (double t : TARGETS) {
                    line.append(' ').append(atRecall(e.getValue(), t, true)).append(" | ")
                            .append(atRecall(e.getValue(), t, false)).append(" |");
                }
                System.out.println(line);
            }
            System.out.printf("%n<details><summary>every measured point (peak %s)</summary>%n%n", PolicySpec.num(peak));
            List<PolicySweep.Row> all = new ArrayList<>();
            results.values().forEach(all::addAll);
            System.out.print(PolicySweep.format(all, plain.oracles(all), true));
            System.out.printf("%n</details>%n");
        }
    }

    static List<Family> families(String tiles, int seqLen) {
        List<Family> out = new ArrayList<>();
        for (String order : new String[] {"natural", "local"}) {
            List<String> blasst = new ArrayList<>();
            for (double delta : new double[] {14, 12, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1.5, 1, 0.5}) {
                // scale = L·e^−δ: skip when tilemax − runningmax < −δ
                blasst.add("blasst:scale=" + sig(seqLen * Math.exp(-delta)) + "," + tiles + ",order=" + order);
            }
            out.add(new Family("blasst, order=" + order, blasst, false));
            List<String> dyn = new ArrayList<>();
            for (double lambda : new double[] {-14, -12, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1}) {
                dyn.add("dynsparse:lambda=" + PolicySpec.num(lambda) + "," + tiles + ",order=" + order);
            }
            out.add(new Family("dynsparse, order=" + order, dyn, false));
            for (String bound : new String[] {"max", "binned", "exact"}) {
                out.add(new Family("recall bound=" + bound + ", order=" + order,
                        recallSpecs("recall", "bound=" + bound + "," + tiles + ",order=" + order), false));
            }
        }
        out.add(new Family("hybrid bound=max (mean-pooled estimate)", recallSpecs("hybrid", "bound=max," + tiles), false));
        out.add(new Family("hybrid bound=exact (mean-pooled estimate)", recallSpecs("hybrid", "bound=exact," + tiles), false));
        out.add(new Family("hybrid bound=exact (prior: previous-step stand-in)", recallSpecs("hybrid", "bound=exact," + tiles), true));
        List<String> topk = new ArrayList<>();
        for (int k : new int[] {32, 24, 16, 12, 8, 6, 4, 3, 2, 1}) {
            topk.add("topk:k=" + k + "," + tiles);
        }
        out.add(new Family("topk (mean-pooled)", topk, false));
        List<String> topp = new ArrayList<>();
        for (double p : new double[] {0.999, 0.99, 0.97, 0.95, 0.9, 0.8, 0.7, 0.5}) {
            topp.add("topp:p=" + PolicySpec.num(p) + "," + tiles);
        }
        out.add(new Family("topp (mean-pooled)", topp, false));
        return out;
    }

    private static List<String> recallSpecs(String name, String rest) {
        List<String> out = new ArrayList<>();
        for (double r : new double[] {0.999, 0.995, 0.99, 0.98, 0.95, 0.9, 0.8, 0.7, 0.5}) {
            out.add(name + ":r=" + PolicySpec.num(r) + "," + rest);
        }
        return out;
    }

    /**
     * The tile sparsity where the family's measured recall (p05 or min) crosses {@code target}: linear
     * interpolation between neighbouring points of the sweep; "≥ x" when even the most aggressive point
     * keeps the target; "–" when not even the most conservative one does.
     */
    static String atRecall(List<PolicySweep.Row> rows, double target, boolean p05) {
        String best = null;
        double bestValue = -1;
        for (int i = 0; i < rows.size(); i++) {
            double ri = recall(rows.get(i), p05);
            double si = rows.get(i).stats().tileSparsity();
            if (ri < target) {
                continue;
            }
            String text;
            double value;
            if (i + 1 < rows.size() && recall(rows.get(i + 1), p05) < target) {
                double rj = recall(rows.get(i + 1), p05);
                double sj = rows.get(i + 1).stats().tileSparsity();
                value = si + (sj - si) * (ri - target) / (ri - rj);
                text = PolicySweep.pct(value);
            } else if (i + 1 == rows.size()) {
                value = si;
                text = "≥ " + PolicySweep.pct(si);
            } else {
                value = si;
                text = PolicySweep.pct(si);
            }
            if (value > bestValue) {
                bestValue = value;
                best = text;
            }
        }
        return best == null ? "–" : best;
    }

    private static double recall(PolicySweep.Row row, boolean p05) {
        return p05 ? row.stats().recallP05() : row.stats().recallMin();
    }

    private static String sig(double v) {
        return new java.math.BigDecimal(v).round(new java.math.MathContext(4)).stripTrailingZeros().toPlainString();
    }
}
