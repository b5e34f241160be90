package io.sparserender.engine.attention;

import java.util.Arrays;

/**
 * The in-loop skip decision of one q-tile, taken after the QKᵀ tile is computed and before its exp,
 * V load and PV. One instance per q-tile pass (a CTA's registers in the kernel); {@link #begin} resets
 * it. The state it reads is the online softmax's: per row r of the q-tile, the running maximum m[r]
 * (−∞ before the first kept tile) and the running sum l[r] of exp(s − m[r]) over kept entries.
 *
 * <p>Per-row → per-tile reduction (the paper leaves it open): a tile is skipped only when every row of
 * the q-tile agrees (logical AND over rows), so no row loses a tile its own rule would keep. The first
 * visited tile is always kept (every rule below is false while m = −∞ or l = 0).
 */
abstract class LoopRule {
    /** Relative float32 safety factor on the recall budget: absorbs rounding in l and in the bound. */
    static final float RECALL_SLACK = 1e-3f;

    void begin(int rows) {}

    /**
     * @param s        the QKᵀ tile, already scaled by 1/√D: row r, column c at {@code s[r·stride + c]}
     * @param tileMax  per row, the maximum of s over the tile's columns
     * @return whether to skip the tile (then the rule has recorded it; the caller leaves m, l, acc alone)
     */
    abstract boolean skip(int rows, int cols, float[] s, int stride, float[] tileMax, float[] m, float[] l);

    /** The caller kept a tile and moved the running max: every running quantity is multiplied by alpha[r]. */
    void rescale(int rows, float[] alpha) {}

    static LoopRule forPolicy(AttentionPolicy policy, int seqLen, int br) {
        if (policy instanceof AttentionPolicy.Blasst b) {
            return new Blasst((float) b.threshold(seqLen));
        }
        if (policy instanceof AttentionPolicy.DynSparse d) {
            return new DynSparse((float) d.lambdaFor(seqLen));
        }
        if (policy instanceof AttentionPolicy.Recall r) {
            return new Recall(r.r(), r.bound(), br);
        }
        if (policy instanceof AttentionPolicy.Hybrid h) {
            return h.hasLoopRule() ? new Recall(h.loopRecall(), h.bound(), br) : new Never();
        }
        return new Never();
    }

    /** dense, topk, topp: no in-loop decision. */
    static final class Never extends LoopRule {
        @Override boolean skip(int rows, int cols, float[] s, int stride, float[] tileMax, float[] m, float[] l) {
            return false;
        }
    }

    /**
     * BLASST (arXiv 2512.12087): skip iff for every row {@code tileMax[r] − m[r] < ln(scale / L)}.
     * Compares with the running maximum only; the kept mass plays no part.
     */
    static final class Blasst extends LoopRule {
        final float threshold;

        Blasst(float threshold) {
            this.threshold = threshold;
        }

        @Override boolean skip(int rows, int cols, float[] s, int stride, float[] tileMax, float[] m, float[] l) {
            for (int r = 0; r < rows; r++) {
                if (!(tileMax[r] - m[r] < threshold)) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * DynSparse (arXiv 2606.16317): skip iff for every row {@code tileMax[r] − (m[r] + ln l[r]) < λ},
     * m + ln l being the running log-sum-exp of the kept entries; λ = ln P_real + ln(bc / L) when given
     * as P_real. A row with l = 0 (nothing kept yet) never agrees.
     */
    static final class DynSparse extends LoopRule {
        final float lambda;

        DynSparse(float lambda) {
            this.lambda = lambda;
        }

        @Override boolean skip(int rows, int cols, float[] s, int stride, float[] tileMax, float[] m, float[] l) {
            for (int r = 0; r < rows; r++) {
                if (!(l[r] > 0) || !(tileMax[r] - (m[r] + (float) Math.log(l[r])) < lambda)) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * Recall-guaranteed (this project's rule). Per row, {@code skipped[r]} bounds the mass of the tiles
     * skipped so far, in units of exp(m[r]) like l[r] (rescaled by alpha when m moves). A tile with bound
     * b[r] (see {@link RecallBound}) is skipped iff for every row
     * {@code skipped[r] + b[r] ≤ (1 − r)/r · (1 − slack) · l[r]}; then skipped += b. Since l only grows
     * afterwards and skipped only grows when this holds, at the end every row has
     * true skipped mass ≤ (1 − r)/r · kept mass, i.e. recall = kept / (kept + skipped) ≥ r.
     */
    static final class Recall extends LoopRule {
        final float ratio;
        final RecallBound bound;
        final float[] skipped;
        final float[] b;
        final int[] bins = new int[RecallBound.BINS + 1];

        Recall(double r, RecallBound bound, int br) {
            this.ratio = (float) ((1 - r) / r) * (1 - RECALL_SLACK);
            this.bound = bound;
            this.skipped = new float[br];
            this.b = new float[br];
        }

        @Override void begin(int rows) {
            Arrays.fill(skipped, 0, rows, 0f);
        }

        @Override boolean skip(int rows, int cols, float[] s, int stride, float[] tileMax, float[] m, float[] l) {
            for (int r = 0; r < rows; r++) {
                if (!(l[r] > 0)) {
                    return false;
                }
                b[r] = bound(r, cols, s, stride, tileMax[r], m[r]);
                if (!(skipped[r] + b[r] <= ratio * l[r])) {
                    return false;
                }
            }
            for (int r = 0; r < rows; r++) {
                skipped[r] += b[r];
            }
            return true;
        }

        @Override void rescale(int rows, float[] alpha) {
            for (int r = 0; r < rows; r++) {
                skipped[r] *= alpha[r];
            }
        }

        /** The bound on row r's mass in this tile, in units of exp(m). */
        float bound(int r, int cols, float[] s, int stride, float t, float m) {
            switch (bound) {
                case MAX:
                    return cols * (float) Math.exp(t - m);
                case EXACT: {
                    float sum = 0;
                    for (int c = 0; c < cols; c++) {
                        sum += (float) Math.exp(s[r * stride + c] - m);
                    }
                    return sum;
                }
                case BINNED: {
                    Arrays.fill(bins, 0);
                    for (int c = 0; c < cols; c++) {
                        float below = t - s[r * stride + c]; // ≥ 0
                        int k = below < RecallBound.BINS ? (int) below : RecallBound.BINS;
                        bins[k]++;
                    }
                    float sum = 0;
                    for (int k = 0; k <= RecallBound.BINS; k++) {
                        if (bins[k] > 0) {
                            sum += bins[k] * (float) Math.exp(t - k - m);
                        }
                    }
                    return sum;
                }
                default:
                    throw new IllegalStateException(bound.name());
            }
        }
    }
}
