package io.sparserender.engine.gpu;

import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.RecallBound;

/**
 * How far one in-loop decision of the reference was from going the other way, replayed in float64: the
 * judge of a tile where the kernel and the reference disagree. Given a q-tile's visit list and the
 * decisions both took before the disputed tile (so the running state is common), it rebuilds per row
 * the running max m, the kept sum l and the skipped-mass bound, then each row's margin to the rule's
 * threshold in nats (blasst: ln(S/L) − (t − m); dynsparse: λ − (t − m − ln l); recall: ln(ratio·l) −
 * ln(skipped + b)), positive when the row votes to skip. A tile is skipped when every row votes so.
 * {@link #distance} is the smallest change of margins that flips the reference's decision: for a
 * skipped tile the smallest row margin, for a kept one the largest shortfall among the rows that voted
 * to keep. A rounding-level difference between the kernel and the reference can only flip a tile at a
 * small distance. For bound=binned, a score within {@link #BIN_SLACK} nats of a bin edge may fall on
 * either side: the distance takes the bound's range over both choices.
 */
final class DecisionMargins {
    /** Scores this close to a 1-nat bin edge may be binned either way by the kernel and the reference. */
    static final double BIN_SLACK = 1e-3;

    private final float[] q;
    private final float[] k;
    private final int seqLen;
    private final int heads;
    private final int headDim;
    private final double scale;
    private static final int TILE_ROWS = 64; // br of the kernels
    private final double[] cachedScores; // the current q-tile's rows against every key
    private int cachedB = -1;
    private int cachedH = -1;
    private int cachedR0 = -1;

    /** {@code q} and {@code k}: the bf16-rounded inputs both sides ran, [B, L, H, D]. */
    DecisionMargins(float[] q, float[] k, int seqLen, int heads, int headDim) {
        this.q = q;
        this.k = k;
        this.seqLen = seqLen;
        this.heads = heads;
        this.headDim = headDim;
        this.scale = 1 / Math.sqrt(headDim);
        this.cachedScores = new double[TILE_ROWS * seqLen];
    }

    /**
     * @param visit         the q-tile's kv-tiles in visiting order
     * @param keptBefore    the common decisions of visit[0 .. pos): true = kept
     * @param pos           the disputed tile's position in {@code visit}
     * @param refSkipped    the reference's decision on it
     * @return the distance (nats, ≥ 0) to the reference's threshold; +∞ when the rule cannot skip (no
     *         kept tile yet, or a policy without an in-loop rule)
     */
    double distance(AttentionPolicy policy, int b, int h, int qt, int br, int bc, int[] visit, boolean[] keptBefore, int pos,
                    boolean refSkipped) {
        double[] m = tileMargin(policy, b, h, qt, br, bc, visit, keptBefore, pos);
        if (m == null) {
            return Double.POSITIVE_INFINITY;
        }
        // Skipped: the row nearest to voting keep; kept: the row furthest from voting skip.
        return refSkipped ? Math.max(0, m[0]) : Math.max(0, -m[1]);
    }

    /**
     * The tile's margin, min over rows of the row margins (positive: every row votes to skip), as
     * {smallest, largest} over the rounding choices (equal unless bound=binned); null when the rule cannot
     * skip here (no kept tile yet, or a policy without an in-loop rule).
     */
    double[] tileMargin(AttentionPolicy policy, int b, int h, int qt, int br, int bc, int[] visit, boolean[] keptBefore, int pos) {
        int r0 = qt * br;
        int rows = Math.min(br, seqLen - r0);
        double ratio;
        RecallBound bound = null;
        if (policy instanceof AttentionPolicy.Recall rc) {
            ratio = ((1 - rc.r()) / rc.r()) * (1 - CudaAttention.RECALL_SLACK);
            bound = rc.bound();
        } else if (policy instanceof AttentionPolicy.Hybrid hy) {
            double r = hy.loopRecall();
            ratio = ((1 - r) / r) * (1 - CudaAttention.RECALL_SLACK);
            bound = hy.bound();
        } else if (policy instanceof AttentionPolicy.Blasst || policy instanceof AttentionPolicy.DynSparse) {
            ratio = Double.NaN;
        } else {
            return null;
        }
        double minLo = Double.POSITIVE_INFINITY;
        double minHi = Double.POSITIVE_INFINITY;
        for (int r = 0; r < rows; r++) {
            int row = r0 + r;
            // Running max over kept tiles before pos.
            double m = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < pos; i++) {
                if (keptBefore[i]) {
                    m = Math.max(m, rowMax(b, h, row, visit[i], bc));
                }
            }
            if (m == Double.NEGATIVE_INFINITY) {
                return null;
            }
            double l = 0;
            double skippedLo = 0;
            double skippedHi = 0;
            for (int i = 0; i < pos; i++) {
                if (keptBefore[i]) {
                    l += tileSum(b, h, row, visit[i], bc, m);
                } else if (bound != null) {
                    double[] bb = bound(bound, b, h, row, visit[i], bc, m);
                    skippedLo += bb[0];
                    skippedHi += bb[1];
                }
            }
            double t = rowMax(b, h, row, visit[pos], bc);
            double marginLo; // the row's smallest margin under rounding (least inclined to skip)
            double marginHi; // its largest
            if (policy instanceof AttentionPolicy.Blasst bl) {
                marginLo = marginHi = bl.threshold(seqLen) - (t - m);
            } else if (policy instanceof AttentionPolicy.DynSparse d) {
                marginLo = marginHi = d.lambdaFor(seqLen) - (t - (m + Math.log(l)));
            } else {
                double[] bb = bound(bound, b, h, row, visit[pos], bc, m);
                marginLo = Math.log(ratio * l) - Math.log(skippedHi + bb[1]);
                marginHi = Math.log(ratio * l) - Math.log(skippedLo + bb[0]);
            }
            minLo = Math.min(minLo, marginLo);
            minHi = Math.min(minHi, marginHi);
        }
        return new double[] {minLo, minHi};
    }

    /** Score of (row, key) of head (b, h), scaled; the q-tile's rows are computed once against every key. */
    private double score(int b, int h, int row, int key) {
        int r0 = row / TILE_ROWS * TILE_ROWS;
        if (cachedB != b || cachedH != h || cachedR0 != r0) {
            for (int r = 0; r < Math.min(TILE_ROWS, seqLen - r0); r++) {
                int qi = ((b * seqLen + r0 + r) * heads + h) * headDim;
                for (int j = 0; j < seqLen; j++) {
                    int ki = ((b * seqLen + j) * heads + h) * headDim;
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) {
                        dot += (double) q[qi + d] * k[ki + d];
                    }
                    cachedScores[r * seqLen + j] = dot * scale;
                }
            }
            cachedB = b;
            cachedH = h;
            cachedR0 = r0;
        }
        return cachedScores[(row - r0) * seqLen + key];
    }

    private double rowMax(int b, int h, int row, int kt, int bc) {
        double t = Double.NEGATIVE_INFINITY;
        for (int c = kt * bc; c < Math.min(seqLen, (kt + 1) * bc); c++) {
            t = Math.max(t, score(b, h, row, c));
        }
        return t;
    }

    private double tileSum(int b, int h, int row, int kt, int bc, double m) {
        double s = 0;
        for (int c = kt * bc; c < Math.min(seqLen, (kt + 1) * bc); c++) {
            s += Math.exp(score(b, h, row, c) - m);
        }
        return s;
    }

    /** {smallest, largest} value the bound may take for this row and tile, in units of exp(m). */
    private double[] bound(RecallBound bound, int b, int h, int row, int kt, int bc, double m) {
        int c0 = kt * bc;
        int cols = Math.min(bc, seqLen - c0);
        double t = rowMax(b, h, row, kt, bc);
        switch (bound) {
            case MAX: {
                double v = cols * Math.exp(t - m);
                return new double[] {v, v};
            }
            case EXACT: {
                double v = tileSum(b, h, row, kt, bc, m);
                return new double[] {v, v};
            }
            case BINNED: {
                double lo = 0;
                double hi = 0;
                for (int c = c0; c < c0 + cols; c++) {
                    double below = t - score(b, h, row, c);
                    int kLo = bin(below + BIN_SLACK); // further below: the smaller weight
                    int kHi = bin(Math.max(0, below - BIN_SLACK));
                    lo += Math.exp(t - kLo - m);
                    hi += Math.exp(t - kHi - m);
                }
                return new double[] {lo, hi};
            }
            default:
                throw new IllegalStateException(bound.name());
        }
    }

    private static int bin(double below) {
        return below < RecallBound.BINS ? (int) below : RecallBound.BINS;
    }
}
