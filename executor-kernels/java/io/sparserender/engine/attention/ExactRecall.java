package io.sparserender.engine.attention;

import io.sparserender.engine.tensor.Tensor;
import java.util.Arrays;

/**
 * Exact statistics of a call against its {@link DenseReference}: per-row recall = the row's softmax
 * mass on the tiles the call computed (kept tiles of its q-tile), summarised as mean, 5th percentile
 * (nearest rank: the ⌈0.05·n⌉-th smallest) and minimum over all (batch, row, head); and
 * rel_l2_vs_dense = ‖o − o_dense‖₂ / ‖o_dense‖₂.
 */
public final class ExactRecall {
    private ExactRecall() {}

    /** Runs the dense pass and fills in the exact statistics. */
    public static AttentionStats of(QkvInput in, AttentionResult result) {
        return of(DenseReference.compute(in, result.stats().bc()), result);
    }

    public static AttentionStats of(DenseReference ref, AttentionResult result) {
        return of(ref, result.stats(), result.mask(), result.o());
    }

    /** The exact statistics of a call given by its parts (e.g. one run on the GPU). */
    public static AttentionStats of(DenseReference ref, AttentionStats st, TileMask mask, Tensor out) {
        if (ref.bc() != st.bc() || ref.seqLen() != st.seqLen() || ref.heads() != st.heads() || ref.batch() != st.batch()) {
            throw new IllegalArgumentException("Cannot compute exact statistics: the dense reference is for bc=" + ref.bc()
                    + ", L=" + ref.seqLen() + ", the call used bc=" + st.bc() + ", L=" + st.seqLen());
        }
        double[] recall = rowRecalls(ref, mask, st.br());
        double sum = 0;
        for (double r : recall) {
            sum += r;
        }
        double[] sorted = recall.clone();
        Arrays.sort(sorted);
        int rank = (int) Math.ceil(0.05 * sorted.length);
        double p05 = sorted[Math.max(0, rank - 1)];
        double[] dense = ref.output();
        float[] o = out.data();
        double num = 0;
        double den = 0;
        for (int i = 0; i < o.length; i++) {
            double diff = o[i] - dense[i];
            num += diff * diff;
            den += dense[i] * dense[i];
        }
        return st.withExact(sum / recall.length, p05, sorted[0], den == 0 ? Math.sqrt(num) : Math.sqrt(num / den));
    }

    /** Recall of every (batch, head, row), in that order. */
    public static double[] rowRecalls(DenseReference ref, TileMask mask, int br) {
        int seqLen = ref.seqLen();
        int heads = ref.heads();
        int nk = ref.kvTiles();
        double[] recall = new double[ref.batch() * heads * seqLen];
        for (int b = 0; b < ref.batch(); b++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < seqLen; i++) {
                    double kept = 0;
                    for (int kt = 0; kt < nk; kt++) {
                        if (mask.kept(b, h, i / br, kt)) {
                            kept += ref.rowTileMass(b, h, i, kt);
                        }
                    }
                    recall[(b * heads + h) * seqLen + i] = kept;
                }
            }
        }
        return recall;
    }
}
