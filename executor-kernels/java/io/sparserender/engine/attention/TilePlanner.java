package io.sparserender.engine.attention;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * The pre-pass of one q-tile: which kv-tiles it visits and in what order. Tiles left out are skipped
 * before QKᵀ (they cost nothing). One method per decision, so the CUDA pre-pass kernel can mirror them.
 *
 * <p>Rules (est_j = the q-tile's estimated mass fraction of kv-tile j, {@link TileEstimates}; sums in float):
 * <ul>
 *   <li>dense, blasst, dynsparse, recall: visit every kv-tile in the tiling's order.
 *   <li>topk(k): keep the k tiles with the largest est (ties: lower index first); all when k ≥ nk.
 *   <li>topp(p): sort by est descending (ties: lower index first), keep the shortest prefix whose
 *       est sum to at least p (at least one tile). Float rounding may make the full sum fall a
 *       hair under 1, so p = 1 keeps every tile with a non-zero fraction.
 *   <li>hybrid(r, pre): sort by est ascending (ties: higher index first, the mirror image of the
 *       descending order); pre-skip the longest prefix whose est sum to at most pre·(1 − r), never
 *       every tile, none when pre·(1 − r) = 0. Rationale: the whole miss budget is 1 − r; the pre-pass may spend the share
 *       {@code pre} of it on tiles it believes are light, and the in-loop recall rule is run with the
 *       rest, (1 − pre)(1 − r) (see {@link AttentionPolicy.Hybrid#loopRecall()}). If the estimate were
 *       exact, every row's recall would still be ≥ r; as it is not, hybrid's recall is measured.
 *       With the mean-pooled estimate, the walk passes over the head's {@code global} tiles
 *       ({@link TileEstimates#globalTiles}: sinks, which pooling misses): they are never pre-skipped and
 *       their estimate is not spent from the budget.
 * </ul>
 * Kept tiles are then visited in the tiling's order (natural, local or estimate).
 */
final class TilePlanner {
    private TilePlanner() {}

    /**
     * @param est        the q-tile's estimated mass fractions (length nk), or null when the policy needs none
     * @param localOrder the q-tile's local-first order (length nk), or null unless order=local
     */
    static int[] plan(AttentionPolicy policy, int nk, float[] est, int[] localOrder) {
        return plan(policy, nk, est, localOrder, null);
    }

    /**
     * @param global the kv-tiles hybrid never pre-skips ({@link TileEstimates#globalTiles}), or null
     */
    static int[] plan(AttentionPolicy policy, int nk, float[] est, int[] localOrder, int[] global) {
        int[] base = baseOrder(policy.tiling().order(), nk, est, localOrder);
        boolean[] keep;
        if (policy instanceof AttentionPolicy.TopK t) {
            keep = topK(t.k(), nk, est);
        } else if (policy instanceof AttentionPolicy.TopP t) {
            keep = topP((float) t.p(), nk, est);
        } else if (policy instanceof AttentionPolicy.Hybrid h) {
            keep = hybrid((float) (h.pre() * (1 - h.r())), nk, est, global);
        } else {
            return base;
        }
        return Arrays.stream(base).filter(j -> keep[j]).toArray();
    }

    static boolean needsEstimate(AttentionPolicy policy) {
        return policy.skipsBeforeQk() || policy.tiling().order() == VisitOrder.ESTIMATE;
    }

    static int[] baseOrder(VisitOrder order, int nk, float[] est, int[] localOrder) {
        return switch (order) {
            case NATURAL -> IntStream.range(0, nk).toArray();
            case LOCAL -> localOrder.clone();
            case ESTIMATE -> descending(nk, est);
        };
    }

    static boolean[] topK(int k, int nk, float[] est) {
        boolean[] keep = new boolean[nk];
        int[] byEst = descending(nk, est);
        for (int i = 0; i < Math.min(k, nk); i++) {
            keep[byEst[i]] = true;
        }
        return keep;
    }

    static boolean[] topP(float p, int nk, float[] est) {
        boolean[] keep = new boolean[nk];
        int[] byEst = descending(nk, est);
        float sum = 0;
        for (int i = 0; i < nk; i++) {
            keep[byEst[i]] = true;
            sum += est[byEst[i]];
            if (sum >= p) {
                break;
            }
        }
        return keep;
    }

    static boolean[] hybrid(float budget, int nk, float[] est) {
        return hybrid(budget, nk, est, null);
    }

    /** As above; the tiles in {@code global} (may be null) are never pre-skipped and spend no budget. */
    static boolean[] hybrid(float budget, int nk, float[] est, int[] global) {
        boolean[] keep = new boolean[nk];
        Arrays.fill(keep, true);
        int[] byEst = descending(nk, est);
        if (!(budget > 0)) {
            return keep; // pre = 0 (or r = 1): nothing is skipped before QKᵀ, even tiles estimated at 0
        }
        boolean[] kept = new boolean[nk];
        if (global != null) {
            for (int j : global) {
                kept[j] = true;
            }
        }
        float sum = 0;
        for (int i = nk - 1; i >= 1; i--) { // ascending; index 0 of byEst (the heaviest) is always kept
            if (kept[byEst[i]]) {
                continue;
            }
            sum += est[byEst[i]];
            if (sum > budget) {
                break;
            }
            keep[byEst[i]] = false;
        }
        return keep;
    }

    /** Tile indices by est descending, ties by lower index first. */
    static int[] descending(int nk, float[] est) {
        return IntStream.range(0, nk).boxed()
                .sorted(Comparator.<Integer>comparingDouble(j -> -est[j]).thenComparingInt(j -> j))
                .mapToInt(Integer::intValue).toArray();
    }
}
