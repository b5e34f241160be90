package io.sparserender.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The oracles that bound what any tile selector can skip at a recall target. */
class OracleTest {
    /**
     * The mean-recall oracle against every subset of tiles on an input small enough to enumerate (one head, 9 tiles):
     * the largest subset whose skipped mass keeps the mean row recall ≥ r, at several r.
     */
    @Test
    void meanRecallOracleSkipsAsManyTilesAsTheBestSubset() {
        VideoGrid grid = new VideoGrid(1, 6, 8); // L = 48: 3 × 3 tiles of 16
        QkvInput in = VideoLikeInputs.videoLike(1, grid, 1, 16, VideoLikeInputs.Knobs.defaults(), 5);
        DenseReference ref = DenseReference.compute(in, 16);
        int nq = 3;
        int nk = 3;
        double[] cost = new double[nq * nk];
        for (int qt = 0; qt < nq; qt++) {
            for (int kt = 0; kt < nk; kt++) {
                for (int i = qt * 16; i < qt * 16 + 16; i++) {
                    cost[qt * nk + kt] += ref.rowTileMass(0, 0, i, kt);
                }
            }
        }
        for (double r : new double[] {0.999, 0.99, 0.95, 0.9, 0.7, 0.5}) {
            int best = 0;
            for (int subset = 0; subset < 1 << cost.length; subset++) {
                double lost = 0;
                for (int t = 0; t < cost.length; t++) {
                    if ((subset >> t & 1) == 1) {
                        lost += cost[t];
                    }
                }
                if (lost <= (1 - r) * 48) {
                    best = Math.max(best, Integer.bitCount(subset));
                }
            }
            assertThat(Oracle.tileSparsityAtMeanRecall(ref, 16, r)).as("r = %s", r).isEqualTo(best / 9.0);
        }
    }

    /** Holding every row to r is stricter than holding their mean to r. */
    @Test
    void everyRowIsStricterThanTheMean() {
        VideoGrid grid = new VideoGrid(2, 8, 12);
        QkvInput in = VideoLikeInputs.videoLike(1, grid, 2, 32, VideoLikeInputs.Knobs.defaults(), 9);
        DenseReference ref = DenseReference.compute(in, 32);
        for (double r : new double[] {0.99, 0.95, 0.9}) {
            assertThat(Oracle.tileSparsity(ref, 32, r)).as("r = %s", r).isLessThanOrEqualTo(Oracle.tileSparsityAtMeanRecall(ref, 32, r));
        }
    }
}
