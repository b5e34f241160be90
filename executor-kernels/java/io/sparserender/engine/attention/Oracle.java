package io.sparserender.engine.attention;

import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * The bar for every policy (DESIGN §4): knowing the exact masses, skip the least massive kv-tiles of
 * each q-tile while every row of the q-tile keeps recall ≥ r. Greedy: tiles in ascending order of their
 * largest row mass fraction (ties by index); a tile is skipped if every row's skipped fraction stays
 * ≤ 1 − r, else kept and the next one tried. Exact optimisation is a multi-row knapsack; the greedy
 * result is a lower bound on the true optimum's sparsity, close to it in practice.
 */
public final class Oracle {
    private Oracle() {}

    /** The oracle's tile sparsity at recall r for q-tiles of br rows (kv-tiles of the reference's bc). */
    public static double tileSparsity(DenseReference ref, int br, double r) {
        int seqLen = ref.seqLen();
        int nq = (seqLen + br - 1) / br;
        int nk = ref.kvTiles();
        double budget = 1 - r;
        long skipped = 0;
        for (int b = 0; b < ref.batch(); b++) {
            for (int h = 0; h < ref.heads(); h++) {
                for (int qt = 0; qt < nq; qt++) {
                    int r0 = qt * br;
                    int rows = Math.min(br, seqLen - r0);
                    double[] worst = new double[nk];
                    for (int kt = 0; kt < nk; kt++) {
                        for (int i = 0; i < rows; i++) {
                            worst[kt] = Math.max(worst[kt], ref.rowTileMass(b, h, r0 + i, kt));
                        }
                    }
                    int[] order = IntStream.range(0, nk).boxed()
                            .sorted(Comparator.<Integer>comparingDouble(j -> worst[j]).thenComparingInt(j -> j))
                            .mapToInt(Integer::intValue).toArray();
                    double[] used = new double[rows];
                    for (int kt : order) {
                        boolean fits = true;
                        for (int i = 0; i < rows && fits; i++) {
                            fits = used[i] + ref.rowTileMass(b, h, r0 + i, kt) <= budget;
                        }
                        if (fits) {
                            for (int i = 0; i < rows; i++) {
                                used[i] += ref.rowTileMass(b, h, r0 + i, kt);
                            }
                            skipped++;
                        }
                    }
                }
            }
        }
        return (double) skipped / ((long) ref.batch() * ref.heads() * nq * nk);
    }

    /**
     * The most tiles a selector that knew the exact masses could skip while the mean row recall, over every row of
     * every head and batch row, stays ≥ r (the benchmark's "measured recall" is that mean): each tile costs the sum of
     * its rows' mass fractions, the budget is (1 − r) per row, and skipping the cheapest tiles first is optimal for a
     * count under one sum (ties do not change the count).
     */
    public static double tileSparsityAtMeanRecall(DenseReference ref, int br, double r) {
        int seqLen = ref.seqLen();
        int nq = (seqLen + br - 1) / br;
        int nk = ref.kvTiles();
        int groups = ref.batch() * ref.heads();
        double[] cost = new double[groups * nq * nk];
        int t = 0;
        for (int b = 0; b < ref.batch(); b++) {
            for (int h = 0; h < ref.heads(); h++) {
                for (int qt = 0; qt < nq; qt++) {
                    for (int kt = 0; kt < nk; kt++) {
                        double c = 0;
                        for (int i = qt * br; i < Math.min(seqLen, (qt + 1) * br); i++) {
                            c += ref.rowTileMass(b, h, i, kt);
                        }
                        cost[t++] = c;
                    }
                }
            }
        }
        java.util.Arrays.sort(cost);
        double budget = (1 - r) * groups * (double) seqLen;
        double used = 0;
        long skipped = 0;
        for (double c : cost) {
            if (used + c > budget) {
                break;
            }
            used += c;
            skipped++;
        }
        return (double) skipped / cost.length;
    }
}
