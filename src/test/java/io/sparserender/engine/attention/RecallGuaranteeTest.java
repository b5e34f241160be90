package io.sparserender.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * recall(r) promises every row recall ≥ r by construction: checked with exact statistics over many
 * seeds, several r, every bound and visit order, on random and on video-like inputs.
 */
class RecallGuaranteeTest {
    private static final double[] TARGETS = {0.8, 0.9, 0.95, 0.99};
    private static final VideoGrid GRID = new VideoGrid(3, 8, 12); // L = 288, not a multiple of 64 or 48

    @Test
    void everyRowKeepsRecallOnVideoLikeInputs() {
        long skipped = 0;
        for (int seed = 0; seed < 6; seed++) {
            VideoLikeInputs.Knobs knobs = VideoLikeInputs.Knobs.defaults().withPeak(8 + 6 * seed);
            QkvInput in = VideoLikeInputs.videoLike(1, GRID, 2, 64, knobs, 100 + seed);
            skipped += checkAll(in, "video seed " + seed);
        }
        assertThat(skipped).as("the property must be exercised: tiles skipped").isGreaterThan(1000);
    }

    @Test
    void everyRowKeepsRecallOnRandomInputs() {
        long skipped = 0;
        for (int seed = 0; seed < 6; seed++) {
            QkvInput in = VideoLikeInputs.random(1, 288, 2, 64, 1.0 + 0.25 * seed, 200 + seed);
            skipped += checkAll(in, "random seed " + seed);
        }
        assertThat(skipped).as("the property must be exercised: tiles skipped").isGreaterThan(200);
    }

    private static long checkAll(QkvInput in, String what) {
        long skipped = 0;
        AttentionOptions options = AttentionOptions.withGrid(GRID.tokens() == in.seqLen() ? GRID : null);
        for (String tiles : new String[] {"br=32,bc=16", "br=64,bc=48"}) {
            DenseReference ref = DenseReference.compute(in, tiles.endsWith("16") ? 16 : 48);
            for (String order : new String[] {"natural", "local"}) {
                if (order.equals("local") && options.grid() == null) {
                    continue;
                }
                for (RecallBound bound : RecallBound.values()) {
                    for (double r : TARGETS) {
                        AttentionPolicy p = PolicySpec.parse("recall:r=" + r + ",bound=" + bound.specName() + "," + tiles
                                + ",order=" + order);
                        AttentionResult res = TiledAttention.run(in, p, options);
                        AttentionStats s = ExactRecall.of(ref, res);
                        assertThat(s.recallMin()).as(what + " " + p.spec()).isGreaterThanOrEqualTo(r);
                        assertThat(s.tilesSkippedBeforeQk()).isZero();
                        skipped += s.tilesSkippedInLoop();
                    }
                }
            }
        }
        return skipped;
    }

    @Test
    void exactBoundSkipsAtLeastAsMuchAsBinnedAndBinnedAsMax() {
        QkvInput in = VideoLikeInputs.videoLike(1, GRID, 2, 64, VideoLikeInputs.Knobs.defaults().withPeak(24), 7);
        AttentionOptions options = AttentionOptions.withGrid(GRID);
        double max = TiledAttention.run(in, PolicySpec.parse("recall:r=0.95,bound=max,bc=32,order=local"), options).stats().tileSparsity();
        double binned = TiledAttention.run(in, PolicySpec.parse("recall:r=0.95,bound=binned,bc=32,order=local"), options).stats().tileSparsity();
        double exact = TiledAttention.run(in, PolicySpec.parse("recall:r=0.95,bound=exact,bc=32,order=local"), options).stats().tileSparsity();
        assertThat(binned).isGreaterThan(max);
        assertThat(exact).isGreaterThanOrEqualTo(binned);
    }
}
