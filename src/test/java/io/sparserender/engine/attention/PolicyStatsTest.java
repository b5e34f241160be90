package io.sparserender.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class PolicyStatsTest {
    private static final VideoGrid GRID = new VideoGrid(2, 10, 13); // L = 260
    private static final QkvInput VIDEO = VideoLikeInputs.videoLike(2, GRID, 2, 32,
            VideoLikeInputs.Knobs.defaults().withPeak(20), 42);
    private static final List<String> SPECS = List.of("dense", "topk:k=2", "topp:p=0.9", "blasst:scale=30",
            "dynsparse:lambda=-4", "dynsparse:preal=0.3", "recall:r=0.9", "recall:r=0.9,bound=exact,order=local",
            "recall:r=0.9,bound=binned,order=estimate", "hybrid:r=0.9", "hybrid:r=0.9,bound=exact,pre=0.5");

    @Test
    void countsAreConsistentForEveryPolicy() {
        for (String tiles : new String[] {"br=32,bc=32", "br=64,bc=48", "br=40,bc=20"}) {
            for (String spec : SPECS) {
                AttentionPolicy p = PolicySpec.parse(spec + (spec.contains(":") ? "," : ":") + tiles);
                AttentionResult res = TiledAttention.run(VIDEO, p, AttentionOptions.withGrid(GRID));
                AttentionStats s = res.stats();
                int nq = p.tiling().qTiles(260);
                int nk = p.tiling().kvTiles(260);
                assertThat(s.tilesTotal()).as(p.spec()).isEqualTo(2L * 2 * nq * nk);
                assertThat(s.tilesSkippedInLoop() + s.tilesSkippedBeforeQk()).as(p.spec()).isLessThan(s.tilesTotal());
                assertThat(s.tileSparsity()).as(p.spec())
                        .isEqualTo((double) (s.tilesSkippedInLoop() + s.tilesSkippedBeforeQk()) / s.tilesTotal());
                if (!p.skipsBeforeQk()) {
                    assertThat(s.tilesSkippedBeforeQk()).as(p.spec()).isZero();
                }
                if (p instanceof AttentionPolicy.TopK || p instanceof AttentionPolicy.TopP || p instanceof AttentionPolicy.Dense) {
                    assertThat(s.tilesSkippedInLoop()).as(p.spec()).isZero();
                }
                long kept = 0;
                double skippedArea = 0; // Σ rows·cols over skipped tiles
                for (int b = 0; b < 2; b++) {
                    for (int h = 0; h < 2; h++) {
                        for (int qt = 0; qt < nq; qt++) {
                            int keptHere = 0;
                            for (int kt = 0; kt < nk; kt++) {
                                if (res.mask().kept(b, h, qt, kt)) {
                                    keptHere++;
                                } else {
                                    skippedArea += (double) Math.min(p.tiling().br(), 260 - qt * p.tiling().br())
                                            * Math.min(p.tiling().bc(), 260 - kt * p.tiling().bc());
                                }
                            }
                            assertThat(keptHere).as("every q-tile keeps a tile").isPositive();
                            kept += keptHere;
                        }
                    }
                }
                assertThat(kept).as(p.spec()).isEqualTo(s.tilesTotal() - s.tilesSkippedInLoop() - s.tilesSkippedBeforeQk());
                double areaFraction = skippedArea / (2.0 * 2 * 260 * 260);
                if (s.tilesSkippedBeforeQk() == 0) {
                    assertThat(s.computeSaved()).as(p.spec()).isCloseTo(areaFraction / 2, within(1e-12));
                } else if (s.tilesSkippedInLoop() == 0) {
                    assertThat(s.computeSaved()).as(p.spec()).isCloseTo(areaFraction, within(1e-12));
                } else {
                    assertThat(s.computeSaved()).as(p.spec()).isBetween(areaFraction / 2, areaFraction);
                }
                assertThat(s.hasExact()).isFalse();
            }
        }
    }

    @Test
    void computeSavedCountsHalfATileInTheLoopAndAWholeTileBeforeQk() {
        QkvInput in = VideoLikeInputs.videoLike(1, new VideoGrid(2, 8, 16), 2, 64, VideoLikeInputs.Knobs.defaults(), 3);
        for (String spec : new String[] {"hybrid:r=0.9,pre=0.5,br=32,bc=32", "blasst:scale=20,br=32,bc=32", "topk:k=3,br=32,bc=32"}) {
            AttentionStats s = TiledAttention.run(in, PolicySpec.parse(spec), AttentionOptions.NONE).stats();
            assertThat(s.tileSparsity()).as(spec).isPositive();
            assertThat(s.computeSaved()).as(spec)
                    .isCloseTo((0.5 * s.tilesSkippedInLoop() + s.tilesSkippedBeforeQk()) / s.tilesTotal(), within(1e-12));
        }
    }

    @Test
    void onlyTopkToppAndHybridSkipBeforeQk() {
        for (String spec : SPECS) {
            AttentionPolicy p = PolicySpec.parse(spec + (spec.contains(":") ? "," : ":") + "br=32,bc=32");
            AttentionStats s = TiledAttention.run(VIDEO, p, AttentionOptions.withGrid(GRID)).stats();
            boolean pre = spec.startsWith("topk") || spec.startsWith("topp") || spec.startsWith("hybrid");
            assertThat(s.tilesSkippedBeforeQk() > 0).as(spec).isEqualTo(pre);
        }
    }

    @Test
    void hybridWithoutPreBudgetIsRecallInEstimateOrder() {
        AttentionResult h = TiledAttention.run(VIDEO, PolicySpec.parse("hybrid:r=0.9,pre=0,br=32,bc=32"), AttentionOptions.NONE);
        AttentionResult r = TiledAttention.run(VIDEO, PolicySpec.parse("recall:r=0.9,order=estimate,br=32,bc=32"), AttentionOptions.NONE);
        assertThat(h.stats().tilesSkippedBeforeQk()).isZero();
        assertThat(h.stats().tilesSkippedInLoop()).isEqualTo(r.stats().tilesSkippedInLoop()).isPositive();
        assertThat(h.o().data()).containsExactly(r.o().data());
    }

    @Test
    void topkKeepsExactlyKTilesPerQTile() {
        AttentionStats s = TiledAttention.run(VIDEO, PolicySpec.parse("topk:k=3,br=32,bc=32"), AttentionOptions.NONE).stats();
        int nq = 9;
        int nk = 9;
        assertThat(s.tilesSkippedBeforeQk()).isEqualTo(2L * 2 * nq * (nk - 3));
        AttentionStats all = TiledAttention.run(VIDEO, PolicySpec.parse("topk:k=100,br=32,bc=32"), AttentionOptions.NONE).stats();
        assertThat(all.tileSparsity()).isZero();
        AttentionStats p1 = TiledAttention.run(VIDEO, PolicySpec.parse("topp:p=1,br=32,bc=32"), AttentionOptions.NONE).stats();
        assertThat(p1.tileSparsity()).isLessThan(0.05);
    }

    @Test
    void blasstSkipSetsAreNestedAsTheScaleGrows() {
        double[] scales = {1, 3, 10, 30, 100, 260};
        AttentionResult prev = null;
        for (double scale : scales) {
            AttentionResult cur = TiledAttention.run(VIDEO, PolicySpec.parse("blasst:br=32,bc=32,scale=" + scale), AttentionOptions.NONE);
            if (prev != null) {
                assertThat(cur.stats().tileSparsity()).isGreaterThanOrEqualTo(prev.stats().tileSparsity());
                for (int qt = 0; qt < 9; qt++) {
                    for (int kt = 0; kt < 9; kt++) {
                        if (!prev.mask().kept(1, 1, qt, kt)) {
                            assertThat(cur.mask().kept(1, 1, qt, kt)).as("scale %s tile %d,%d", scale, qt, kt).isFalse();
                        }
                    }
                }
            }
            prev = cur;
        }
        assertThat(prev.stats().tileSparsity()).isGreaterThan(0.15);
    }

    @Test
    void dynsparseSparsityGrowsWithLambdaAndRecallFalls() {
        double lastSparsity = -1;
        double lastRecall = 2;
        DenseReference ref = DenseReference.compute(VIDEO, 32);
        for (double lambda : new double[] {-12, -9, -7, -5, -4, -3, -2}) {
            AttentionResult r = TiledAttention.run(VIDEO, PolicySpec.parse("dynsparse:br=32,bc=32,lambda=" + lambda), AttentionOptions.NONE);
            AttentionStats s = ExactRecall.of(ref, r);
            assertThat(s.tileSparsity()).as("lambda %s", lambda).isGreaterThanOrEqualTo(lastSparsity);
            assertThat(s.recallMean()).as("lambda %s", lambda).isLessThanOrEqualTo(lastRecall);
            lastSparsity = s.tileSparsity();
            lastRecall = s.recallMean();
        }
        assertThat(lastSparsity).isGreaterThan(0.1);
    }

    @Test
    void localOrderNeedsAMatchingGrid() {
        AttentionPolicy p = PolicySpec.parse("recall:r=0.9,order=local");
        assertThatThrownBy(() -> TiledAttention.run(VIDEO, p, AttentionOptions.NONE))
                .hasMessage("Cannot run policy 'recall:r=0.9,bound=max,br=64,bc=64,order=local': order=local needs the token grid (frames, rows, columns)");
        assertThatThrownBy(() -> TiledAttention.run(VIDEO, p, AttentionOptions.withGrid(new VideoGrid(2, 10, 12))))
                .hasMessageContaining("grid 2x10x12 has 240 tokens, the input has L = 260");
    }

    @Test
    void localOrderVisitsTheQTilesOwnTileFirst() {
        int[][] orders = LocalOrder.of(GRID, 260, new Tiling(20, 20, VisitOrder.LOCAL));
        for (int qt = 0; qt < orders.length; qt++) {
            assertThat(orders[qt][0]).isEqualTo(qt);
            assertThat(orders[qt]).hasSize(13).doesNotHaveDuplicates();
        }
    }

    @Test
    void hybridAtPreOneSpendsTheWholeBudgetBeforeTheLoop() {
        for (String tiles : new String[] {"br=32,bc=32", "br=40,bc=20"}) {
            AttentionStats split = TiledAttention.run(VIDEO, PolicySpec.parse("hybrid:r=0.6,pre=0.5," + tiles), AttentionOptions.withGrid(GRID)).stats();
            AttentionStats pre = TiledAttention.run(VIDEO, PolicySpec.parse("hybrid:r=0.6,pre=1," + tiles), AttentionOptions.withGrid(GRID)).stats();
            assertThat(split.tilesSkippedInLoop()).as("the rule has a budget at pre 0.5 (" + tiles + ")").isPositive();
            assertThat(pre.tilesSkippedInLoop()).as("no in-loop rule at pre 1 (" + tiles + ")").isZero();
            assertThat(pre.tilesSkippedBeforeQk()).as(tiles).isGreaterThan(split.tilesSkippedBeforeQk());
        }
        assertThat(((AttentionPolicy.Hybrid) PolicySpec.parse("hybrid:r=0.9,pre=1")).hasLoopRule()).isFalse();
        assertThat(((AttentionPolicy.Hybrid) PolicySpec.parse("hybrid:r=0.9,pre=0.99")).hasLoopRule()).isTrue();
    }

    @Test
    void aPriorFromTheExactMassesSteersHybrid() {
        DenseReference ref = DenseReference.compute(VIDEO, 32);
        AttentionOptions withPrior = new AttentionOptions(GRID, ref.tileMassTable(32));
        AttentionPolicy p = PolicySpec.parse("hybrid:r=0.9,pre=1,br=32,bc=32");
        AttentionStats informed = ExactRecall.of(ref, TiledAttention.run(VIDEO, p, withPrior));
        // With exact masses as the prior, pre-skipping spends at most (1 - r) of each row's mass.
        assertThat(informed.recallMin()).isGreaterThanOrEqualTo(0.9 - 1e-6);
        assertThat(informed.tilesSkippedBeforeQk()).isPositive();
        assertThatThrownBy(() -> TiledAttention.run(VIDEO, PolicySpec.parse("hybrid:r=0.9,br=64,bc=32"), withPrior))
                .hasMessageContaining("the prior tile masses are for");
    }

    @Test
    void rejectsBadInputsNamingTheTensor() {
        io.sparserender.engine.tensor.Tensor ok = io.sparserender.engine.tensor.Tensor.zeros(1, 4, 2, 8);
        io.sparserender.engine.tensor.Tensor bad = io.sparserender.engine.tensor.Tensor.zeros(1, 4, 2, 8);
        bad.data()[17] = Float.NaN;
        assertThatThrownBy(() -> new QkvInput(ok, bad, ok))
                .hasMessage("Invalid attention input: tensor 'k' holds NaN at [0, 1, 0, 1]");
        assertThatThrownBy(() -> new QkvInput(ok, ok, io.sparserender.engine.tensor.Tensor.zeros(1, 4, 2, 4)))
                .hasMessage("Invalid attention input: tensor 'v' has shape [1, 4, 2, 4], expected the shape of 'q' [1, 4, 2, 8]");
        assertThatThrownBy(() -> new QkvInput(io.sparserender.engine.tensor.Tensor.zeros(4, 2, 8), ok, ok))
                .hasMessage("Invalid attention input: tensor 'q' has shape [4, 2, 8], expected [B, L, H, D]");
    }
}
