package io.sparserender.engine.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.AttentionResult;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.TilePlans;
import io.sparserender.engine.attention.TiledAttention;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.attention.VideoLikeInputs;
import org.junit.jupiter.api.Test;

/**
 * The judge of the gpu tests' disputed decisions, checked without a GPU: replayed on the reference's own
 * decisions, its margin has the sign of every decision the reference took (up to float rounding), so a
 * kernel decision it calls "near the threshold" really is, and one it calls far really is a bug.
 */
class DecisionMarginsTest {
    private static final VideoGrid GRID = new VideoGrid(4, 12, 12); // L = 576

    @Test
    void marginsHaveTheSignOfTheReferencesDecisions() {
        QkvInput in = VideoLikeInputs.videoLike(1, GRID, 1, 64, VideoLikeInputs.Knobs.defaults().withPeak(24), 11);
        String[] specs = {"blasst:scale=2,bc=32", "dynsparse:lambda=-6", "recall:r=0.9,bound=max,order=local",
            "recall:r=0.95,bound=exact,bc=32", "recall:r=0.8,bound=binned,order=estimate", "hybrid:r=0.8,bound=binned,pre=0.1,bc=32"};
        DecisionMargins margins = new DecisionMargins(in.q().data(), in.k().data(), GRID.tokens(), 1, 64);
        for (String spec : specs) {
            AttentionPolicy p = PolicySpec.parse(spec);
            AttentionOptions options = AttentionOptions.withGrid(GRID);
            AttentionResult ref = TiledAttention.run(in, p, options);
            TilePlans.Plan plan = TilePlans.of(in, p, options);
            int skipped = 0;
            int judged = 0;
            for (int h = 0; h < 1; h++) {
                for (int qt = 0; qt < plan.qTiles(); qt++) {
                    int[] visit = plan.visit(0, h, qt);
                    boolean[] kept = new boolean[visit.length];
                    for (int pos = 0; pos < visit.length; pos++) {
                        kept[pos] = ref.mask().kept(0, h, qt, visit[pos]);
                        double[] m = margins.tileMargin(p, 0, h, qt, 64, p.tiling().bc(), visit, kept, pos);
                        if (pos == 0) {
                            assertThat(m).as(spec + ": the first visited tile cannot be skipped").isNull();
                            continue;
                        }
                        judged++;
                        String where = spec + " h=" + h + " qt=" + qt + " tile " + visit[pos];
                        if (kept[pos]) {
                            assertThat(m[0]).as(where + " kept: smallest margin").isLessThan(1e-4);
                            assertThat(margins.distance(p, 0, h, qt, 64, p.tiling().bc(), visit, kept, pos, false))
                                    .isEqualTo(Math.max(0, -m[1]));
                        } else {
                            skipped++;
                            assertThat(m[1]).as(where + " skipped: largest margin").isGreaterThan(-1e-4);
                        }
                    }
                }
            }
            assertThat(judged).as(spec).isPositive();
            assertThat(skipped).as(spec + " skips something, so both signs are checked").isPositive();
        }
    }

    @Test
    void policiesWithoutAnInLoopRuleAreNeverJudgedNear() {
        QkvInput in = VideoLikeInputs.random(1, 200, 1, 64, 1.0, 2);
        DecisionMargins margins = new DecisionMargins(in.q().data(), in.k().data(), 200, 1, 64);
        int[] visit = {0, 1, 2, 3};
        boolean[] kept = {true, true, true, true};
        assertThat(margins.distance(PolicySpec.parse("topk:k=4"), 0, 0, 0, 64, 64, visit, kept, 2, false))
                .isEqualTo(Double.POSITIVE_INFINITY);
    }
}
