package io.sparserender.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** TilePlans, the Java twin the CUDA planner is checked against, is the plan TiledAttention walks. */
class TilePlansTest {
    private static final VideoGrid GRID = new VideoGrid(3, 7, 13); // L = 273
    private static final QkvInput VIDEO = VideoLikeInputs.videoLike(2, GRID, 2, 32, VideoLikeInputs.Knobs.defaults(), 5);

    @Test
    void theVisitedTilesAreTheOnesTiledAttentionComputes() {
        List<String> specs = List.of("dense:bc=32", "topk:k=2,bc=32", "topk:k=50,bc=32,order=local", "topp:p=0.8",
                "topp:p=0.5,order=estimate,bc=32", "hybrid:r=0.9", "hybrid:r=0.8,pre=1,order=local,bc=32",
                "recall:r=0.9,bound=binned,order=estimate", "blasst:scale=1,order=local");
        AttentionOptions options = AttentionOptions.withGrid(GRID);
        for (String spec : specs) {
            AttentionPolicy p = PolicySpec.parse(spec);
            TilePlans.Plan plan = TilePlans.of(VIDEO, p, options);
            AttentionResult res = TiledAttention.run(VIDEO, p, options);
            int nq = p.tiling().qTiles(273);
            int nk = p.tiling().kvTiles(273);
            assertThat(plan.qTiles()).isEqualTo(nq);
            assertThat(plan.kvTiles()).isEqualTo(nk);
            assertThat(plan.estimates() != null).as(spec).isEqualTo(p.skipsBeforeQk() || p.tiling().order() == VisitOrder.ESTIMATE);
            long unvisited = 0;
            for (int b = 0; b < 2; b++) {
                for (int h = 0; h < 2; h++) {
                    for (int qt = 0; qt < nq; qt++) {
                        int[] visit = plan.visit(b, h, qt);
                        assertThat(visit).as(spec).doesNotHaveDuplicates().isNotEmpty();
                        unvisited += nk - visit.length;
                        boolean[] listed = new boolean[nk];
                        for (int kt : visit) {
                            listed[kt] = true;
                        }
                        for (int kt = 0; kt < nk; kt++) {
                            if (res.mask().kept(b, h, qt, kt)) {
                                assertThat(listed[kt]).as(spec + " kept tile " + kt + " is listed").isTrue();
                            }
                        }
                        if (p.tiling().order() == VisitOrder.ESTIMATE) {
                            for (int i = 1; i < visit.length; i++) {
                                assertThat(plan.estimate(b, h, qt, visit[i - 1])).isGreaterThanOrEqualTo(plan.estimate(b, h, qt, visit[i]));
                            }
                        }
                        if (p.tiling().order() == VisitOrder.LOCAL) {
                            int[] local = TilePlans.localOrder(GRID, 273, p.tiling())[qt];
                            int[] filtered = Arrays.stream(local).filter(kt -> listed[kt]).toArray();
                            assertThat(visit).as(spec).containsExactly(filtered);
                        }
                        if (p instanceof AttentionPolicy.TopK tk) {
                            assertThat(visit).hasSize(Math.min(tk.k(), nk));
                        }
                        if (!p.skipsBeforeQk() && p.tiling().order() == VisitOrder.NATURAL) {
                            assertThat(visit).containsExactly(IntStream.range(0, nk).toArray());
                        }
                    }
                }
            }
            assertThat(unvisited).as(spec).isEqualTo(res.stats().tilesSkippedBeforeQk());
        }
    }

    @Test
    void estimatesAreASoftmaxPerQTileOrThePriorAsItIs() {
        AttentionPolicy p = PolicySpec.parse("topk:k=3,bc=32");
        TilePlans.Plan plan = TilePlans.of(VIDEO, p, AttentionOptions.NONE);
        for (int row = 0; row < 2 * 2 * plan.qTiles(); row++) {
            double sum = 0;
            for (int kt = 0; kt < plan.kvTiles(); kt++) {
                sum += plan.estimates()[row * plan.kvTiles() + kt];
            }
            assertThat(sum).isCloseTo(1.0, org.assertj.core.api.Assertions.within(1e-5));
        }
        TileMassTable prior = TiledAttention.run(VIDEO, PolicySpec.parse("dense:bc=32"), AttentionOptions.NONE).measured();
        TilePlans.Plan withPrior = TilePlans.of(VIDEO, p, new AttentionOptions(null, prior));
        for (int i = 0; i < prior.mass().length; i++) {
            assertThat(withPrior.estimates()[i]).isEqualTo((float) prior.mass()[i]);
        }
    }

    @Test
    void refusesWhatTiledAttentionRefuses() {
        assertThatThrownBy(() -> TilePlans.of(VIDEO, PolicySpec.parse("topk:k=2,order=local"), AttentionOptions.NONE))
                .hasMessageContaining("order=local needs the token grid");
        TileMassTable wrong = TiledAttention.run(VIDEO, PolicySpec.parse("dense:bc=64"), AttentionOptions.NONE).measured();
        assertThatThrownBy(() -> TilePlans.of(VIDEO, PolicySpec.parse("hybrid:r=0.9,bc=32"), new AttentionOptions(null, wrong)))
                .hasMessageContaining("the prior tile masses are for");
    }
}
