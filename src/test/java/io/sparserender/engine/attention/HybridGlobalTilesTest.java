package io.sparserender.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * hybrid's global tiles: the kv-tiles with a key every query favours (an attention sink), which the
 * mean-pooled estimate dilutes away, are found and never pre-skipped, and that is what lifts the worst rows.
 */
class HybridGlobalTilesTest {
    private static final VideoGrid GRID = new VideoGrid(4, 24, 24); // L = 2304, the DESIGN §4 study's grid

    @Test
    void theTileOfASinkKeyComesFirst() {
        int seqLen = 320;
        int dim = 16;
        Random rnd = new Random(3);
        float[] g = new float[dim];
        for (int d = 0; d < dim; d++) {
            g[d] = (float) rnd.nextGaussian();
        }
        float[] q = new float[seqLen * dim];
        float[] k = new float[seqLen * dim];
        for (int i = 0; i < seqLen; i++) {
            for (int d = 0; d < dim; d++) {
                q[i * dim + d] = (float) (0.5 * rnd.nextGaussian() + g[d]);
                k[i * dim + d] = (float) (0.5 * rnd.nextGaussian() + (i == 200 ? 2 * g[d] : 0));
            }
        }
        Tiling tiling = new Tiling(64, 64, VisitOrder.ESTIMATE);
        int[] global = TileEstimates.globalTiles(q, k, seqLen, dim, tiling, 2);
        assertThat(global).hasSize(2);
        assertThat(global[0]).as("key 200 is in kv-tile 3").isEqualTo(3);
        assertThat(TileEstimates.globalTiles(q, k, seqLen, dim, tiling, 50)).as("at most every tile once")
                .hasSize(5).containsExactlyInAnyOrder(0, 1, 2, 3, 4);
    }

    @Test
    void globalTilesAreNeverSkippedBeforeQk() {
        QkvInput in = VideoLikeInputs.videoLike(1, GRID, 2, 64, VideoLikeInputs.Knobs.defaults(), 7);
        TilePlans.Plan plan = TilePlans.of(in, PolicySpec.parse("hybrid:r=0.95"), AttentionOptions.withGrid(GRID));
        TilePlans.Plan without = TilePlans.of(in, PolicySpec.parse("hybrid:r=0.95,global=0"), AttentionOptions.withGrid(GRID));
        assertThat(without.globals()).isNull();
        int skippedWithout = 0;
        for (int h = 0; h < 2; h++) {
            int[] global = plan.globals()[h];
            assertThat(global).hasSize(AttentionPolicy.Hybrid.DEFAULT_GLOBAL).doesNotHaveDuplicates();
            for (int qt = 0; qt < plan.qTiles(); qt++) {
                int[] visit = plan.visit(0, h, qt);
                assertThat(visit).as("head " + h + " q-tile " + qt).contains(global);
                for (int kt : global) {
                    if (Arrays.stream(without.visit(0, h, qt)).noneMatch(j -> j == kt)) {
                        skippedWithout++;
                    }
                }
            }
        }
        assertThat(skippedWithout).as("global=0 pre-skips some of those tiles on this input").isPositive();
        // with a prior the estimate is measured: no global tiles
        TileMassTable prior = DenseReference.compute(in, 64).tileMassTable(64);
        assertThat(TilePlans.of(in, PolicySpec.parse("hybrid:r=0.95"), new AttentionOptions(GRID, prior)).globals()).isNull();
    }

    @Test
    void theWorstRowsKeepMostOfTheirMass() {
        QkvInput in = VideoLikeInputs.videoLike(1, GRID, 2, 128, VideoLikeInputs.Knobs.defaults(), 1);
        DenseReference ref = DenseReference.compute(in, 64);
        AttentionOptions options = AttentionOptions.withGrid(GRID);
        AttentionResult plain = TiledAttention.run(in, PolicySpec.parse("hybrid:r=0.95,global=0"), options);
        AttentionResult floor = TiledAttention.run(in, PolicySpec.parse("hybrid:r=0.95"), options);
        AttentionStats before = ExactRecall.of(ref, plain);
        AttentionStats after = ExactRecall.of(ref, floor);
        assertThat(before.recallMin()).as("the mean-pooled estimate alone loses a sink row").isLessThan(0.1);
        assertThat(after.recallMin()).isGreaterThanOrEqualTo(0.5);
        assertThat(after.recallP05()).isGreaterThanOrEqualTo(0.95);
        double skipShare = (double) after.tilesSkippedBeforeQk() / before.tilesSkippedBeforeQk();
        assertThat(skipShare).as("most pre-skips stay").isGreaterThan(0.75);
    }
}
