package io.sparserender.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The per-tile masses a call measures on the way, the previous-step predictor for hybrid. */
class MeasuredMassTest {
    private static final VideoGrid GRID = new VideoGrid(2, 9, 14); // L = 252
    private static final QkvInput IN = VideoLikeInputs.videoLike(1, GRID, 2, 32, VideoLikeInputs.Knobs.defaults(), 21);

    @Test
    void aDenseCallMeasuresTheExactTileMasses() {
        double[] exact = DenseReference.compute(IN, 32).tileMassTable(48).mass();
        double[] measured = TiledAttention.run(IN, PolicySpec.parse("dense:br=48,bc=32"), AttentionOptions.NONE).measured().mass();
        assertThat(measured).hasSameSizeAs(exact);
        for (int i = 0; i < exact.length; i++) {
            assertThat(measured[i]).as("tile %d", i).isCloseTo(exact[i], within(1e-5));
        }
    }

    @Test
    void aSparseCallMeasuresKeptTilesWithinItsRecallAndBoundsSkippedOnes() {
        DenseReference ref = DenseReference.compute(IN, 32);
        double[] exact = ref.tileMassTable(32).mass();
        AttentionResult r = TiledAttention.run(IN, PolicySpec.parse("recall:r=0.9,bound=exact,br=32,bc=32,order=local"),
                AttentionOptions.withGrid(GRID));
        double[] measured = r.measured().mass();
        int nq = 8;
        int nk = 8;
        int skipped = 0;
        for (int h = 0; h < 2; h++) {
            for (int qt = 0; qt < nq; qt++) {
                for (int kt = 0; kt < nk; kt++) {
                    int i = (h * nq + qt) * nk + kt;
                    if (r.mask().kept(0, h, qt, kt)) {
                        // relative to the kept mass, which is ≥ 0.9 of the row's mass
                        assertThat(measured[i]).isBetween(exact[i] - 1e-6, exact[i] / 0.9 + 1e-6);
                    } else {
                        skipped++;
                        assertThat(measured[i]).isGreaterThanOrEqualTo(exact[i] - 1e-6);
                    }
                }
            }
        }
        assertThat(skipped).isPositive();
    }

    @Test
    void hybridTakesTheMeasuredMassesOfAPreviousCallAsItsPrior() {
        QkvInput previous = VideoLikeInputs.perturbed(IN, 0.1, 5);
        AttentionResult step1 = TiledAttention.run(previous, PolicySpec.parse("dense:br=32,bc=32"), AttentionOptions.NONE);
        AttentionResult step2 = TiledAttention.run(IN, PolicySpec.parse("hybrid:r=0.9,bound=exact,pre=0.5,br=32,bc=32"),
                new AttentionOptions(null, step1.measured()));
        AttentionStats s = ExactRecall.of(IN, step2);
        assertThat(s.tilesSkippedBeforeQk()).isPositive();
        assertThat(s.recallP05()).isGreaterThan(0.85);
    }
}
