package io.sparserender.engine.attention;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The CPU study behind hybrid's local floor (docs/BENCHMARKS.md, "hybrid's worst rows: CPU study"): on
 * video-like inputs, the pre-pass of {@code hybrid:r,pre} under candidate fixes for the rows whose mass
 * the mean-pooled estimate misjudges, each measured exactly against a float64 dense pass: the row recall
 * of the tiles the pre-pass keeps (mean, p05, min; the in-loop rule may then drop at most
 * (1 − pre)(1 − r) of the row's mass more) and the share of tiles skipped before QKᵀ. Candidates:
 * <ul>
 *   <li>{@code base}: the plain rule (the mean-pooled estimate decides alone);
 *   <li>{@code grid-local N}: the q-tile's N nearest kv-tiles on the (frame, row, col) grid
 *       ({@link LocalOrder}) are never pre-skipped; the budget is spent on the other tiles;
 *   <li>{@code seq-local N}: the same with the tokens taken as a 1-D sequence (grid 1×1×L);
 *   <li>{@code sub-est S}: the estimate taken per sub-block of br/S rows and bc/S keys (softmax over
 *       all key sub-blocks for each row sub-block, summed per kv-tile), the maximum over row sub-blocks;
 *   <li>{@code prior}: the masses of a perturbed copy of the input (the previous-step stand-in of
 *       {@link SparsityStudy}), for comparison: the CUDA pre-pass has no prior source yet.
 * </ul>
 * Then full runs ({@link TiledAttention} with the in-loop rule, {@link ExactRecall}) of the given specs.
 * Run (after {@code mvn -o compile}):
 * <pre>
 *   java -cp target/classes io.sparserender.engine.attention.HybridFloorStudy [--grids 4x24x24,5x22x40]
 *        [--heads 2] [--dim 128] [--peaks 16,32] [--r 0.95] [--pre 0.2] [--seed 1] [--full 'spec;spec']
 * </pre>
 */
public final class HybridFloorStudy {
    private HybridFloorStudy() {}

    public static void main(String[] args) {
        Map<String, String> opt = StudyOptions.parse(args);
        int heads = Integer.parseInt(opt.getOrDefault("--heads", "2"));
        int dim = Integer.parseInt(opt.getOrDefault("--dim", "128"));
        double r = Double.parseDouble(opt.getOrDefault("--r", "0.95"));
        double pre = Double.parseDouble(opt.getOrDefault("--pre", "0.2"));
        long seed = Long.parseLong(opt.getOrDefault("--seed", "1"));
        int sinks = Integer.parseInt(opt.getOrDefault("--sinks", "4"));
        String full = opt.getOrDefault("--full", "");
        int[] ms = Arrays.stream(opt.getOrDefault("--globals", "1,2,4,8").split(",")).mapToInt(Integer::parseInt).toArray();
        int[] ns = Arrays.stream(opt.getOrDefault("--locals", "1,2,4,8").split(",")).mapToInt(Integer::parseInt).toArray();
        System.out.println("| input | candidate | pre-pass recall mean / p05 / min | pre-skipped tiles |");
        System.out.println("|---|---|---|---|");
        for (String gridText : opt.getOrDefault("--grids", "4x24x24").split(",")) {
            VideoGrid grid = VideoGrid.parse(gridText);
            for (String peakText : opt.getOrDefault("--peaks", "16").split(",")) {
                double peak = Double.parseDouble(peakText);
                QkvInput in = VideoLikeInputs.videoLike(1, grid, heads, dim, new VideoLikeInputs.Knobs(peak, 1, 1, sinks, VideoLikeInputs.DEFAULT_PEAK / 2), seed);
                String label = grid + " (L " + grid.tokens() + "), peak " + peakText + ", " + sinks + " sinks";
                study(label, in, grid, r, pre, ns, ms, seed);
                for (String spec : full.split(";")) {
                    if (!spec.isBlank()) {
                        fullRun(label, in, grid, PolicySpec.parse(spec.strip()));
                    }
                }
            }
        }
    }

    static void study(String label, QkvInput in, VideoGrid grid, double r, double pre, int[] ns, int[] ms, long seed) {
        Tiling tiling = new Tiling(64, 64, VisitOrder.ESTIMATE);
        int seqLen = in.seqLen();
        int nq = tiling.qTiles(seqLen);
        int nk = tiling.kvTiles(seqLen);
        float budget = (float) (pre * (1 - r));
        DenseReference ref = DenseReference.compute(in, tiling.bc());
        float[][] mean = new float[in.heads()][];
        float[][] prior = new float[in.heads()][];
        TileMassTable priorTable = DenseReference.compute(VideoLikeInputs.perturbed(in, 0.2, seed + 1000), tiling.bc())
                .tileMassTable(tiling.br());
        for (int h = 0; h < in.heads(); h++) {
            float[][] qk = gather(in, h);
            mean[h] = TileEstimates.meanPooled(qk[0], qk[1], seqLen, in.headDim(), tiling);
            prior[h] = TileEstimates.fromPrior(priorTable.slice(0, h));
        }
        int[][] gridLocal = LocalOrder.of(grid, seqLen, tiling);
        int[][] seqLocal = LocalOrder.of(new VideoGrid(1, 1, seqLen), seqLen, tiling);
        Map<String, boolean[][][]> keeps = new LinkedHashMap<>();
        keeps.put("base", keep(in.heads(), nq, nk, mean, budget, null, 0));
        for (int n : ns) {
            keeps.put("grid-local " + n, keep(in.heads(), nq, nk, mean, budget, gridLocal, n));
        }
        for (int n : ns) {
            keeps.put("seq-local " + n, keep(in.heads(), nq, nk, mean, budget, seqLocal, n));
        }
        for (int s : new int[] {2, 4}) {
            float[][] sub = new float[in.heads()][];
            for (int h = 0; h < in.heads(); h++) {
                float[][] qk = gather(in, h);
                sub[h] = subBlockEstimate(qk[0], qk[1], seqLen, in.headDim(), tiling, s);
            }
            keeps.put("sub-est " + s, keep(in.heads(), nq, nk, sub, budget, null, 0));
            keeps.put("sub-est " + s + " + grid-local 4", keep(in.heads(), nq, nk, sub, budget, gridLocal, 4));
        }
        for (int m : ms) {
            int[][][] global = new int[in.heads()][][];
            for (int h = 0; h < in.heads(); h++) {
                float[][] qk = gather(in, h);
                global[h] = globalTiles(qk[0], qk[1], seqLen, in.headDim(), tiling, nq);
            }
            keeps.put("global-key " + m, keepTwo(in.heads(), nq, nk, mean, budget, global, m, null, 0));
            for (int n : ns) {
                keeps.put("global-key " + m + " + grid-local " + n, keepTwo(in.heads(), nq, nk, mean, budget, global, m, gridLocal, n));
                keeps.put("global-key " + m + " + seq-local " + n, keepTwo(in.heads(), nq, nk, mean, budget, global, m, seqLocal, n));
            }
        }
        float[][] globalMass = new float[in.heads()][];
        for (int h = 0; h < in.heads(); h++) {
            float[][] qk = gather(in, h);
            float[] g = globalMass(qk[0], qk[1], seqLen, in.headDim(), tiling);
            globalMass[h] = mean[h].clone();
            for (int qt = 0; qt < nq; qt++) {
                for (int kt = 0; kt < nk; kt++) {
                    globalMass[h][qt * nk + kt] = Math.max(globalMass[h][qt * nk + kt], g[kt]);
                }
            }
        }
        keeps.put("global-mass (est = max(est, G))", keep(in.heads(), nq, nk, globalMass, budget, null, 0));
        keeps.put("global-mass + grid-local 4", keep(in.heads(), nq, nk, globalMass, budget, gridLocal, 4));
        float[][] quest = new float[in.heads()][];
        for (int h = 0; h < in.heads(); h++) {
            float[][] qk = gather(in, h);
            quest[h] = questEstimate(qk[0], qk[1], seqLen, in.headDim(), tiling);
        }
        keeps.put("box-bound est (Quest-style)", keep(in.heads(), nq, nk, quest, budget, null, 0));
        keeps.put("prior (previous-step stand-in)", keep(in.heads(), nq, nk, prior, budget, null, 0));
        for (Map.Entry<String, boolean[][][]> e : keeps.entrySet()) {
            boolean[][][] k = e.getValue();
            TileMask mask = new TileMask(1, in.heads(), nq, nk);
            long skipped = 0;
            for (int h = 0; h < in.heads(); h++) {
                for (int qt = 0; qt < nq; qt++) {
                    for (int kt = 0; kt < nk; kt++) {
                        if (k[h][qt][kt]) {
                            mask.set(0, h, qt, kt);
                        } else {
                            skipped++;
                        }
                    }
                }
            }
            double[] rec = ExactRecall.rowRecalls(ref, mask, tiling.br());
            System.out.printf(Locale.ROOT, "| %s | %s | %s | %.3f |%n", label, e.getKey(), summary(rec),
                    (double) skipped / ((long) in.heads() * nq * nk));
        }
    }

    static void fullRun(String label, QkvInput in, VideoGrid grid, AttentionPolicy policy) {
        AttentionResult res = TiledAttention.run(in, policy, AttentionOptions.withGrid(grid));
        AttentionStats st = ExactRecall.of(in, res);
        System.out.printf(Locale.ROOT, "| %s | full run `%s` | %.3f / %.3f / %.3f | %.3f (all skips %.3f) |%n", label, policy.spec(),
                st.recallMean(), st.recallP05(), st.recallMin(),
                (double) st.tilesSkippedBeforeQk() / st.tilesTotal(), st.tileSparsity());
    }

    private static String summary(double[] rec) {
        double[] s = rec.clone();
        Arrays.sort(s);
        double sum = 0;
        for (double x : s) {
            sum += x;
        }
        int rank = (int) Math.ceil(0.05 * s.length);
        return String.format(Locale.ROOT, "%.3f / %.3f / %.3f", sum / s.length, s[Math.max(0, rank - 1)], s[0]);
    }

    /** keep[h][qt][kt]: hybrid's pre-pass with the first {@code n} tiles of {@code local[qt]} never skipped. */
    private static boolean[][][] keep(int heads, int nq, int nk, float[][] est, float budget, int[][] local, int n) {
        return keepTwo(heads, nq, nk, est, budget, null, 0, local, n);
    }

    /** As keep, also never skipping the first {@code m} tiles of {@code global[h][0]} (one list per head). */
    private static boolean[][][] keepTwo(int heads, int nq, int nk, float[][] est, float budget, int[][][] global, int m,
                                         int[][] local, int n) {
        boolean[][][] out = new boolean[heads][nq][];
        for (int h = 0; h < heads; h++) {
            for (int qt = 0; qt < nq; qt++) {
                float[] row = Arrays.copyOfRange(est[h], qt * nk, (qt + 1) * nk);
                boolean[] prot = new boolean[nk];
                for (int i = 0; i < Math.min(n, nk) && local != null; i++) {
                    prot[local[qt][i]] = true;
                }
                for (int i = 0; i < Math.min(m, nk) && global != null; i++) {
                    prot[global[h][0][i]] = true;
                }
                boolean[] keep = new boolean[nk];
                Arrays.fill(keep, true);
                int[] byEst = TilePlanner.descending(nk, row);
                float sum = 0;
                for (int i = nk - 1; i >= 1; i--) {
                    if (prot[byEst[i]]) {
                        continue;
                    }
                    sum += row[byEst[i]];
                    if (sum > budget) {
                        break;
                    }
                    keep[byEst[i]] = false;
                }
                out[h][qt] = keep;
            }
        }
        return out;
    }

    /**
     * Per head: kv-tiles by the largest score of one of their keys against the mean of all (scaled) queries,
     * descending (ties lower index): the tiles holding keys every query favours (sinks). [0][i].
     */
    static int[][] globalTiles(float[] q, float[] k, int seqLen, int headDim, Tiling tiling, int nq) {
        float[] qAll = meanQuery(q, seqLen, headDim);
        int nk = tiling.kvTiles(seqLen);
        float[] tmax = new float[nk];
        Arrays.fill(tmax, Float.NEGATIVE_INFINITY);
        for (int c = 0; c < seqLen; c++) {
            float dot = 0;
            for (int d = 0; d < headDim; d++) {
                dot += qAll[d] * k[c * headDim + d];
            }
            tmax[c / tiling.bc()] = Math.max(tmax[c / tiling.bc()], dot);
        }
        return new int[][] {TilePlanner.descending(nk, tmax)};
    }

    /** The mean of all (scaled) query rows: [headDim]. */
    private static float[] meanQuery(float[] q, int seqLen, int headDim) {
        float[] qAll = new float[headDim];
        for (int i = 0; i < seqLen; i++) {
            for (int d = 0; d < headDim; d++) {
                qAll[d] += q[i * headDim + d];
            }
        }
        for (int d = 0; d < headDim; d++) {
            qAll[d] /= seqLen;
        }
        return qAll;
    }

    /** G[kt]: the softmax over single keys of the mean (scaled) query's scores, summed per kv-tile. */
    static float[] globalMass(float[] q, float[] k, int seqLen, int headDim, Tiling tiling) {
        float[] qAll = meanQuery(q, seqLen, headDim);
        double[] s = new double[seqLen];
        double mx = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < seqLen; c++) {
            float dot = 0;
            for (int d = 0; d < headDim; d++) {
                dot += qAll[d] * k[c * headDim + d];
            }
            s[c] = dot;
            mx = Math.max(mx, dot);
        }
        double sum = 0;
        for (int c = 0; c < seqLen; c++) {
            s[c] = Math.exp(s[c] - mx);
            sum += s[c];
        }
        float[] g = new float[tiling.kvTiles(seqLen)];
        for (int c = 0; c < seqLen; c++) {
            g[c / tiling.bc()] += (float) (s[c] / sum);
        }
        return g;
    }

    /** Quest-style: w = Σ_d max(q̄_d·kmax_d, q̄_d·kmin_d) + ln(cols), softmax per q-tile. */
    private static float[] questEstimate(float[] q, float[] k, int seqLen, int headDim, Tiling tiling) {
        int nq = tiling.qTiles(seqLen);
        int nk = tiling.kvTiles(seqLen);
        float[] qBar = new float[nq * headDim];
        for (int i = 0; i < seqLen; i++) {
            for (int d = 0; d < headDim; d++) {
                qBar[(i / tiling.br()) * headDim + d] += q[i * headDim + d];
            }
        }
        for (int t = 0; t < nq; t++) {
            int n = Math.min(tiling.br(), seqLen - t * tiling.br());
            for (int d = 0; d < headDim; d++) {
                qBar[t * headDim + d] /= n;
            }
        }
        float[] kmax = new float[nk * headDim];
        float[] kmin = new float[nk * headDim];
        Arrays.fill(kmax, Float.NEGATIVE_INFINITY);
        Arrays.fill(kmin, Float.POSITIVE_INFINITY);
        for (int c = 0; c < seqLen; c++) {
            for (int d = 0; d < headDim; d++) {
                int at = (c / tiling.bc()) * headDim + d;
                kmax[at] = Math.max(kmax[at], k[c * headDim + d]);
                kmin[at] = Math.min(kmin[at], k[c * headDim + d]);
            }
        }
        float[] est = new float[nq * nk];
        for (int i = 0; i < nq; i++) {
            double mx = Double.NEGATIVE_INFINITY;
            double[] w = new double[nk];
            for (int j = 0; j < nk; j++) {
                double s = 0;
                for (int d = 0; d < headDim; d++) {
                    float a = qBar[i * headDim + d];
                    s += Math.max(a * kmax[j * headDim + d], a * kmin[j * headDim + d]);
                }
                w[j] = s + Math.log(Math.min(tiling.bc(), seqLen - j * tiling.bc()));
                mx = Math.max(mx, w[j]);
            }
            double sum = 0;
            for (int j = 0; j < nk; j++) {
                w[j] = Math.exp(w[j] - mx);
                sum += w[j];
            }
            for (int j = 0; j < nk; j++) {
                est[i * nk + j] = (float) (w[j] / sum);
            }
        }
        return est;
    }

    /** Sub-block estimate: for each row sub-block a softmax over all key sub-blocks, summed per kv-tile; max over row sub-blocks. */
    private static float[] subBlockEstimate(float[] q, float[] k, int seqLen, int headDim, Tiling tiling, int s) {
        Tiling sub = new Tiling(Math.max(1, tiling.br() / s), Math.max(1, tiling.bc() / s), VisitOrder.NATURAL);
        float[] fine = TileEstimates.meanPooled(q, k, seqLen, headDim, sub); // [nqSub][nkSub], softmax per row sub-block
        int nqSub = sub.qTiles(seqLen);
        int nkSub = sub.kvTiles(seqLen);
        int nq = tiling.qTiles(seqLen);
        int nk = tiling.kvTiles(seqLen);
        float[] est = new float[nq * nk];
        for (int a = 0; a < nqSub; a++) {
            int qt = a * sub.br() / tiling.br();
            float[] perTile = new float[nk];
            for (int b = 0; b < nkSub; b++) {
                perTile[b * sub.bc() / tiling.bc()] += fine[a * nkSub + b];
            }
            for (int kt = 0; kt < nk; kt++) {
                est[qt * nk + kt] = Math.max(est[qt * nk + kt], perTile[kt]);
            }
        }
        return est;
    }

    private static float[][] gather(QkvInput in, int h) {
        int seqLen = in.seqLen();
        int headDim = in.headDim();
        float scale = (float) (1 / Math.sqrt(headDim));
        float[] q = new float[seqLen * headDim];
        float[] k = new float[seqLen * headDim];
        for (int l = 0; l < seqLen; l++) {
            int src = in.offset(0, l, h);
            for (int d = 0; d < headDim; d++) {
                q[l * headDim + d] = in.q().data()[src + d] * scale;
                k[l * headDim + d] = in.k().data()[src + d];
            }
        }
        return new float[][] {q, k};
    }
}
