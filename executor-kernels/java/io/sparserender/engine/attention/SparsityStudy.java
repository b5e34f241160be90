package io.sparserender.engine.attention;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The policy comparison of docs/BENCHMARKS.md: on video-like inputs, each policy family is swept over
 * its parameter, every point measured with exact statistics, and the largest tile sparsity among the
 * points that reach a target measured recall (5th percentile or minimum over rows) is reported, beside
 * the oracle at the same target (which holds every row to it).
 * A quality study, not a speed one. Run (after {@code mvn -o compile}):
 * <pre>
 *   java -cp target/classes io.sparserender.engine.attention.SparsityStudy [--grid 4,24,24] [--heads 2]
 *        [--dim 128] [--tile 64] [--peaks 16,32] [--seed 1] [--mixed-peaks 8:32]
 * </pre>
 * Prints Markdown: per input, a summary table, then every measured point. {@code --mixed-peaks 8:32} adds
 * an input whose heads have those peaks (one head each; {@code --peaks ''} skips the uniform ones).
 */
public final class SparsityStudy {
    private static final double[] TARGETS = {0.95, 0.99};

    private SparsityStudy() {}

    /** A family: a label and its specs from conservative to aggressive. */
    record Family(String label, List<String> specs, boolean withPrior) {}

    public static void main(String[] args) {
        Map<String, String> opt = StudyOptions.parse(args);
        VideoGrid grid = VideoGrid.parse(opt.getOrDefault("--grid", "4,24,24"));
        int heads = Integer.parseInt(opt.getOrDefault("--heads", "2"));
        int dim = Integer.parseInt(opt.getOrDefault("--dim", "128"));
        int tile = Integer.parseInt(opt.getOrDefault("--tile", "64"));
        long seed = Long.parseLong(opt.getOrDefault("--seed", "1"));
        String tiles = "br=" + tile + ",bc=" + tile;
        int seqLen = grid.tokens();
        List<String> settings = new ArrayList<>();
        if (!opt.getOrDefault("--peaks", "16,32").isEmpty()) {
            settings.addAll(List.of(opt.getOrDefault("--peaks", "16,32").split(",")));
        }
        if (opt.containsKey("--mixed-peaks")) {
            settings.add("mixed:" + opt.get("--mixed-peaks"));
        }
        for (String peakText : settings) {
            boolean mixed = peakText.startsWith("mixed:");
            double peak = mixed ? Double.NaN : Double.parseDouble(peakText);
            VideoLikeInputs.Knobs knobs = VideoLikeInputs.Knobs.defaults().withPeak(mixed ? VideoLikeInputs.DEFAULT_PEAK : peak);
            QkvInput in = mixed ? mixedHeads(grid, dim, peakText.substring(6).split(":"), seed)
                    : VideoLikeInputs.videoLike(1, grid, heads, dim, knobs, seed);
            QkvInput previous = VideoLikeInputs.perturbed(in, 0.2, seed + 1000);
            long t0 = System.nanoTime();
            TileMassTable prior = DenseReference.compute(previous, tile).tileMassTable(tile);
            PolicySweep plain = new PolicySweep(in, AttentionOptions.withGrid(grid));
            PolicySweep withPrior = new PolicySweep(in, new AttentionOptions(grid, prior));
            if (mixed) {
                System.out.printf(Locale.ROOT, "%n### Video-like input, heads of different peaks: grid %s (L = %d), %d heads × %d "
                        + "with peaks %s (head i: seed %d + i, sinks at peak/2), %s, tilt 1, noise 1, 4 sinks%n%n", grid, seqLen,
                        in.heads(), dim, peakText.substring(6).replace(":", ", "), seed, tiles.replace(",", " "));
            } else {
                System.out.printf(Locale.ROOT, "%n### Video-like input: grid %s (L = %d), %d heads × %d, %s, peak %s, tilt %s, "
                        + "noise %s, %d sinks at %s nats, seed %d%n%n", grid, seqLen, heads, dim, tiles.replace(",", " "),
                        PolicySpec.num(peak), PolicySpec.num(knobs.tilt()), PolicySpec.num(knobs.noise()), knobs.sinks(),
                        PolicySpec.num(knobs.sinkLogit()), seed);
            }
            List<Family> families = families(tiles, seqLen);
            Map<Family, List<PolicySweep.Row>> results = new LinkedHashMap<>();
            for (Family f : families) {
                List<PolicySweep.Row> rows = new ArrayList<>();
                for (String spec : f.specs()) {
                    rows.add((f.withPrior() ? withPrior : plain).run(PolicySpec.parse(spec)));
                }
                results.put(f, rows);
                System.err.printf(Locale.ROOT, "%s: %s done, %.0f s%n", peakText, f.label(), (System.nanoTime() - t0) / 1e9);
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
            StringBuilder oracle = new StringBuilder("| **oracle** (greedy, exact masses, every row ≥ target) |");
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
            System.out.printf("%n<details><summary>every measured point (%s)</summary>%n%n", mixed ? "peaks " + peakText.substring(6).replace(":", ", ") : "peak " + peakText);
            List<PolicySweep.Row> all = new ArrayList<>();
            results.values().forEach(all::addAll);
            System.out.print(PolicySweep.format(all, plain.oracles(all), true));
            System.out.printf("%n</details>%n");
        }
    }

    /** One video-like head per peak (head i from seed + i), stacked along H. */
    static QkvInput mixedHeads(VideoGrid grid, int dim, String[] peaks, long seed) {
        int heads = peaks.length;
        int seqLen = grid.tokens();
        float[][] out = new float[3][seqLen * heads * dim];
        for (int h = 0; h < heads; h++) {
            double p = Double.parseDouble(peaks[h]);
            QkvInput one = VideoLikeInputs.videoLike(1, grid, 1, dim,
                    new VideoLikeInputs.Knobs(p, 1, 1, 4, p / 2), seed + h);
            float[][] src = {one.q().data(), one.k().data(), one.v().data()};
            for (int t = 0; t < 3; t++) {
                for (int l = 0; l < seqLen; l++) {
                    System.arraycopy(src[t], l * dim, out[t], (l * heads + h) * dim, dim);
                }
            }
        }
        int[] shape = {1, seqLen, heads, dim};
        return new QkvInput(new io.sparserender.engine.tensor.Tensor(out[0], shape),
                new io.sparserender.engine.tensor.Tensor(out[1], shape), new io.sparserender.engine.tensor.Tensor(out[2], shape));
    }

    static List<Family> families(String tiles, int seqLen) {
        List<Family> out = new ArrayList<>();
        for (String order : new String[] {"natural", "local"}) {
            List<String> blasst = new ArrayList<>();
            for (double delta : new double[] {12, 10, 8, 7, 6, 5, 4, 3, 2, 1.5, 1, 0.5}) {
                // scale = L·e^−δ: skip when tilemax − runningmax < −δ
                blasst.add("blasst:scale=" + sig(seqLen * Math.exp(-delta)) + "," + tiles + ",order=" + order);
            }
            out.add(new Family("blasst, order=" + order, blasst, false));
            List<String> dyn = new ArrayList<>();
            for (double lambda : new double[] {-12, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0}) {
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
     * The largest tile sparsity among the family's measured points whose recall (p05 or min) is at least
     * {@code target}; "–" when none is. No interpolation: a value here is a setting that was run and met
     * the target (so a coarse grid can only understate a family).
     */
    static String atRecall(List<PolicySweep.Row> rows, double target, boolean p05) {
        double best = -1;
        for (PolicySweep.Row row : rows) {
            if (recall(row, p05) >= target) {
                best = Math.max(best, row.stats().tileSparsity());
            }
        }
        return best < 0 ? "–" : PolicySweep.pct(best);
    }

    private static double recall(PolicySweep.Row row, boolean p05) {
        return p05 ? row.stats().recallP05() : row.stats().recallMin();
    }

    private static String sig(double v) {
        return new java.math.BigDecimal(v).round(new java.math.MathContext(4)).stripTrailingZeros().toPlainString();
    }
}
