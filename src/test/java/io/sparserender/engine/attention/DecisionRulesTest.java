package io.sparserender.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The decision rules on hand-made numbers: what the CUDA kernel must reproduce exactly. */
class DecisionRulesTest {
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    @Test
    void blasstSkipsOnlyWhenEveryRowIsStrictlyBelowTheThreshold() {
        LoopRule rule = new LoopRule.Blasst(-2f);
        float[] m = {5f, 5f};
        float[] l = {1f, 1f};
        assertThat(rule.skip(2, 4, new float[8], 4, new float[] {2.9f, 2.9f}, m, l)).isTrue();
        assertThat(rule.skip(2, 4, new float[8], 4, new float[] {2.9f, 3.0f}, m, l)).as("one row at the threshold").isFalse();
        assertThat(rule.skip(2, 4, new float[8], 4, new float[] {2.9f, 2.9f}, new float[] {NEG_INF, 5f}, l))
                .as("nothing kept yet in a row").isFalse();
    }

    @Test
    void dynsparseComparesWithTheRunningLogSumExp() {
        LoopRule rule = new LoopRule.DynSparse(-3f);
        float[] m = {0f};
        float[] l = {(float) Math.exp(2)}; // LSE = 2
        assertThat(rule.skip(1, 4, new float[4], 4, new float[] {-1.01f}, m, l)).isTrue();
        assertThat(rule.skip(1, 4, new float[4], 4, new float[] {-0.99f}, m, l)).isFalse();
        assertThat(rule.skip(1, 4, new float[4], 4, new float[] {-100f}, new float[] {NEG_INF}, new float[] {0f})).isFalse();
    }

    @Test
    void recallBoundsAreMaxExactAndBinned() {
        float[] s = {0f, -0.5f, -1.5f, -7f};
        float t = 0f;
        float m = 1f;
        LoopRule.Recall max = new LoopRule.Recall(0.9, RecallBound.MAX, 1);
        LoopRule.Recall exact = new LoopRule.Recall(0.9, RecallBound.EXACT, 1);
        LoopRule.Recall binned = new LoopRule.Recall(0.9, RecallBound.BINNED, 1);
        double e = Math.exp(-1);
        assertThat(max.bound(0, 4, s, 4, t, m)).isCloseTo((float) (4 * e), within(1e-6f));
        assertThat(exact.bound(0, 4, s, 4, t, m)).isCloseTo((float) (e * (1 + Math.exp(-0.5) + Math.exp(-1.5) + Math.exp(-7))), within(1e-6f));
        // bins: 0 → bin 0, −0.5 → bin 0, −1.5 → bin 1, −7 → tail (≥ 6 below)
        assertThat(binned.bound(0, 4, s, 4, t, m)).isCloseTo((float) (e * (2 + Math.exp(-1) + Math.exp(-6))), within(1e-6f));
    }

    @Test
    void recallAccumulatesItsBudgetAndRescalesIt() {
        // r = 0.5: skipped mass may reach (1 − r)/r = 1 times the kept mass (less the float slack).
        LoopRule.Recall rule = new LoopRule.Recall(0.5, RecallBound.MAX, 1);
        rule.begin(1);
        float[] m = {0f};
        float[] l = {4f};
        float[] s = new float[2];
        float tile = (float) Math.log(1.9 / 2); // bound 2·exp(t − m) = 1.9
        assertThat(rule.skip(1, 2, s, 2, new float[] {tile}, m, l)).isTrue();
        assertThat(rule.skip(1, 2, s, 2, new float[] {tile}, m, l)).as("3.8 ≤ 4·(1 − 1e-3)").isTrue();
        assertThat(rule.skip(1, 2, s, 2, new float[] {tile}, m, l)).as("5.7 > 4").isFalse();
        rule.rescale(1, new float[] {0.5f}); // the max moved up by ln 2: skipped becomes 1.9, l the caller's business
        assertThat(rule.skipped[0]).isCloseTo(1.9f, within(1e-6f));
    }

    @Test
    void plannerRules() {
        float[] est = {0.05f, 0.4f, 0.05f, 0.3f, 0.2f};
        assertThat(TilePlanner.descending(5, est)).containsExactly(1, 3, 4, 0, 2);
        assertThat(TilePlanner.topK(2, 5, est)).containsExactly(false, true, false, true, false);
        assertThat(TilePlanner.topP(0.7f, 5, est)).containsExactly(false, true, false, true, false);
        assertThat(TilePlanner.topP(0.71f, 5, est)).containsExactly(false, true, false, true, true);
        // hybrid: ascending 2, 0, 4, 3 (1 never): budget 0.1 takes 0.05 + 0.05, not 0.2 more
        assertThat(TilePlanner.hybrid(0.1f, 5, est)).containsExactly(false, true, false, true, true);
        assertThat(TilePlanner.hybrid(0f, 5, new float[] {0f, 1f, 0f, 0f, 0f})).containsOnly(true);
        assertThat(TilePlanner.hybrid(5f, 5, est)).containsExactly(false, true, false, false, false);
        // hybrid with global tiles: tile 2 (the lightest) is never pre-skipped and spends no budget, so the walk
        // goes on to 0 and 4 (0.05 + 0.2 > 0.1: only 0 skipped); tile 0 global instead: 2 skipped, then 4 is too heavy
        assertThat(TilePlanner.hybrid(0.1f, 5, est, new int[] {2})).containsExactly(false, true, true, true, true);
        assertThat(TilePlanner.hybrid(0.26f, 5, est, new int[] {2})).containsExactly(false, true, true, true, false);
        assertThat(TilePlanner.hybrid(0.1f, 5, est, new int[] {0})).containsExactly(true, true, false, true, true);
        assertThat(TilePlanner.hybrid(5f, 5, est, new int[] {0, 1, 2, 3, 4})).as("every tile global").containsOnly(true);
        assertThat(TilePlanner.hybrid(0f, 5, est, new int[] {})).containsOnly(true);
        AttentionPolicy hybrid = PolicySpec.parse("hybrid:r=0.5,pre=0.2"); // budget 0.1, order=estimate
        assertThat(TilePlanner.plan(hybrid, 5, est, null, new int[] {2})).containsExactly(1, 3, 4, 2);
        assertThat(TilePlanner.plan(hybrid, 5, est, null, null)).containsExactly(1, 3, 4);
        AttentionPolicy topk = PolicySpec.parse("topk:k=2,order=estimate");
        assertThat(TilePlanner.plan(topk, 5, est, null)).containsExactly(1, 3);
        AttentionPolicy local = PolicySpec.parse("recall:r=0.9,order=local");
        assertThat(TilePlanner.plan(local, 5, null, new int[] {2, 1, 3, 0, 4})).containsExactly(2, 1, 3, 0, 4);
    }

    @Test
    void prealAndItsLambdaAreTheSameRule() {
        QkvInput in = VideoLikeInputs.videoLike(1, new VideoGrid(2, 8, 12), 2, 32, VideoLikeInputs.Knobs.defaults(), 4);
        double lambda = Math.log(0.3) + Math.log(32.0 / 192);
        AttentionResult a = TiledAttention.run(in, PolicySpec.parse("dynsparse:preal=0.3,br=32,bc=32"), AttentionOptions.NONE);
        AttentionResult b = TiledAttention.run(in, new AttentionPolicy.DynSparse(lambda, Double.NaN, new Tiling(32, 32, VisitOrder.NATURAL)),
                AttentionOptions.NONE);
        assertThat(a.stats().tilesSkippedInLoop()).isEqualTo(b.stats().tilesSkippedInLoop()).isPositive();
        assertThat(a.o().data()).containsExactly(b.o().data());
    }
}
