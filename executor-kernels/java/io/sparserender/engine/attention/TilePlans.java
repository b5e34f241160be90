package io.sparserender.engine.attention;

import java.util.Objects;

/**
 * The pre-pass of a call on its own, for the CUDA planner to be checked against ({@code attention_plan.cu}
 * mirrors it): per (batch, head, q-tile) the estimate row and the visit list that {@link TiledAttention}
 * walks. Computed by the same code as {@link TiledAttention} ({@link TileEstimates}, {@link TilePlanner},
 * {@link LocalOrder}), with the same checks of the options.
 */
public final class TilePlans {
    private TilePlans() {}

    /**
     * @param estimates {@code [B, H, q-tiles, kv-tiles]} as the planner used them (mean-pooled softmax or
     *                  the prior's masses), or null when the policy needs none
     * @param visits    per {@code (b · H + h) · q-tiles + qt}: the kv-tiles visited, in visiting order
     * @param globals   per {@code b · H + h}: hybrid's global tiles ({@link TileEstimates#globalTiles}), never
     *                  pre-skipped; null when the policy has none (not hybrid, global=0 or a prior)
     */
    public record Plan(int batch, int heads, int qTiles, int kvTiles, float[] estimates, int[][] visits, int[][] globals) {
        public Plan {
            Objects.requireNonNull(visits, "visits is null");
        }

        public int[] visit(int b, int h, int qt) {
            return visits[(b * heads + h) * qTiles + qt];
        }

        /** The estimate of (q-tile, kv-tile) of head (b, h); the plan must have estimates. */
        public float estimate(int b, int h, int qt, int kt) {
            return estimates[((b * heads + h) * qTiles + qt) * kvTiles + kt];
        }
    }

    /** The plan of {@code policy} over {@code in}; the same errors as {@link TiledAttention#run}. */
    public static Plan of(QkvInput in, AttentionPolicy policy, AttentionOptions options) {
        Tiling tiling = policy.tiling();
        int bsz = in.batch();
        int seqLen = in.seqLen();
        int heads = in.heads();
        int headDim = in.headDim();
        int nq = tiling.qTiles(seqLen);
        int nk = tiling.kvTiles(seqLen);
        int[][] local = localOrders(in, policy, options);
        checkPrior(in, policy, options.prior());
        boolean estimates = TilePlanner.needsEstimate(policy);
        float[] est = estimates ? new float[Math.multiplyExact(bsz * heads * nq, nk)] : null;
        int[][] visits = new int[bsz * heads * nq][];
        int[][] globals = globalCount(policy, options.prior()) > 0 ? new int[bsz * heads][] : null;
        for (int b = 0; b < bsz; b++) {
            for (int h = 0; h < heads; h++) {
                float[] e = null;
                int[] global = null;
                if (estimates) {
                    float[][] qk = gather(in, b, h);
                    e = headEstimates(tiling, options.prior(), b, h, qk[0], qk[1], seqLen, headDim);
                    System.arraycopy(e, 0, est, (b * heads + h) * nq * nk, nq * nk);
                    global = headGlobals(policy, options.prior(), qk[0], qk[1], seqLen, headDim);
                }
                if (globals != null) {
                    globals[b * heads + h] = global;
                }
                for (int qt = 0; qt < nq; qt++) {
                    float[] row = e == null ? null : java.util.Arrays.copyOfRange(e, qt * nk, (qt + 1) * nk);
                    visits[(b * heads + h) * nq + qt] = TilePlanner.plan(policy, nk, row, local == null ? null : local[qt], global);
                }
            }
        }
        return new Plan(bsz, heads, nq, nk, est, visits, globals);
    }

    /** The local-first order of every q-tile ({@link VisitOrder#LOCAL}): {@code [qt][i]} = i-th nearest kv-tile. */
    public static int[][] localOrder(VideoGrid grid, int seqLen, Tiling tiling) {
        return LocalOrder.of(grid, seqLen, tiling);
    }

    /** The local orders when the policy visits order=local (checking the grid), else null. */
    static int[][] localOrders(QkvInput in, AttentionPolicy policy, AttentionOptions options) {
        Tiling tiling = policy.tiling();
        if (tiling.order() != VisitOrder.LOCAL) {
            return null;
        }
        int seqLen = in.seqLen();
        if (options.grid() == null) {
            throw new IllegalArgumentException("Cannot run policy '" + policy.spec()
                    + "': order=local needs the token grid (frames, rows, columns)");
        }
        if (options.grid().tokens() != seqLen) {
            throw new IllegalArgumentException("Cannot run policy '" + policy.spec() + "': grid " + options.grid()
                    + " has " + options.grid().tokens() + " tokens, the input has L = " + seqLen);
        }
        return LocalOrder.of(options.grid(), seqLen, tiling);
    }

    /** Refuses a prior whose shape or tiling is not this call's. */
    static void checkPrior(QkvInput in, AttentionPolicy policy, TileMassTable prior) {
        Tiling tiling = policy.tiling();
        if (prior != null && (prior.batch() != in.batch() || prior.heads() != in.heads() || prior.seqLen() != in.seqLen()
                || prior.br() != tiling.br() || prior.bc() != tiling.bc())) {
            throw new IllegalArgumentException("Cannot run policy '" + policy.spec() + "': the prior tile masses are for "
                    + prior.batch() + "x" + prior.seqLen() + "x" + prior.heads() + " with br=" + prior.br() + ", bc="
                    + prior.bc() + ", not this call's " + in.batch() + "x" + in.seqLen() + "x" + in.heads());
        }
    }

    /** One head's estimates: the prior's masses, else the mean-pooled softmax of q (pre-scaled) and k. */
    static float[] headEstimates(Tiling tiling, TileMassTable prior, int b, int h, float[] qScaled, float[] k, int seqLen,
                                 int headDim) {
        return prior != null ? TileEstimates.fromPrior(prior.slice(b, h))
                : TileEstimates.meanPooled(qScaled, k, seqLen, headDim, tiling);
    }

    /** How many global tiles the policy keeps per head: hybrid's {@code global} with the mean-pooled estimate, else 0. */
    static int globalCount(AttentionPolicy policy, TileMassTable prior) {
        return policy instanceof AttentionPolicy.Hybrid h && prior == null ? h.global() : 0;
    }

    /** One head's global tiles ({@link TileEstimates#globalTiles}), or null when {@link #globalCount} is 0. */
    static int[] headGlobals(AttentionPolicy policy, TileMassTable prior, float[] qScaled, float[] k, int seqLen, int headDim) {
        int m = globalCount(policy, prior);
        return m == 0 ? null : TileEstimates.globalTiles(qScaled, k, seqLen, headDim, policy.tiling(), m);
    }

    /** Head (b, h) as row-major [L][D]: q multiplied by the float 1/√D, as {@link TiledAttention} does, and k. */
    private static float[][] gather(QkvInput in, int b, int h) {
        int seqLen = in.seqLen();
        int headDim = in.headDim();
        float scale = (float) (1 / Math.sqrt(headDim));
        float[] q = new float[seqLen * headDim];
        float[] k = new float[seqLen * headDim];
        float[] qd = in.q().data();
        float[] kd = in.k().data();
        for (int l = 0; l < seqLen; l++) {
            int src = in.offset(b, l, h);
            for (int d = 0; d < headDim; d++) {
                q[l * headDim + d] = qd[src + d] * scale;
                k[l * headDim + d] = kd[src + d];
            }
        }
        return new float[][] {q, k};
    }
}
