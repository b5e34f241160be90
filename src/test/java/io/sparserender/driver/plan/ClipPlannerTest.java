package io.sparserender.driver.plan;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.pipeline.ClipSpec;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ClipPlannerTest {
    static ClipSpec clip(int i, int frames, int steps) {
        return new ClipSpec("p" + i, "", i, 1280, 704, frames, steps, 5, Double.NaN, 5, "dense", "wan2.2-ti2v-5b", "r");
    }

    static final DitCostModel FIVE_B = new DitCostModel(5.0e9, 30, 3072, 32, 4, 400e12);

    @Test
    void tokensAndFlopsFollowTheReferenceShapes() {
        ClipSpec c = clip(0, 121, 50);
        assertThat(FIVE_B.tokens(c)).isEqualTo(27_280);
        // 2·5e9·27280 + 4·30·3072·27280² ≈ 0.548 PFLOP per forward (REFERENCE: ≈ 0.52 PFLOP)
        double perForward = FIVE_B.applyAsDouble(c) * 400e12 / 100;
        assertThat(perForward).isBetween(0.50e15, 0.56e15);
    }

    @Test
    void everyClipIsPlannedOnceAndLoadsAreBalanced() {
        SplittableRandom r = new SplittableRandom(3);
        List<ClipSpec> clips = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            clips.add(clip(i, 1 + 4 * r.nextInt(1, 31), r.nextInt(10, 51)));
        }
        ClipPlanner planner = new ClipPlanner(FIVE_B, 300);
        List<ClipPlanner.Partition> plan = planner.plan(clips, 4);
        List<ClipSpec> all = new ArrayList<>();
        plan.forEach(p -> all.addAll(p.clips()));
        assertThat(all).hasSize(200);
        assertThat(new HashSet<>(all)).containsExactlyInAnyOrderElementsOf(clips);
        double max = plan.stream().mapToDouble(ClipPlanner.Partition::seconds).max().orElseThrow();
        double mean = plan.stream().mapToDouble(ClipPlanner.Partition::seconds).average().orElseThrow();
        double biggest = clips.stream().mapToDouble(FIVE_B).max().orElseThrow();
        assertThat(max).isLessThanOrEqualTo(mean + biggest); // the LPT bound
        assertThat(plan.size()).isGreaterThanOrEqualTo(4);
        for (ClipPlanner.Partition p : plan) {
            for (int i = 1; i < p.clips().size(); i++) {
                assertThat(FIVE_B.applyAsDouble(p.clips().get(i - 1))).isGreaterThanOrEqualTo(FIVE_B.applyAsDouble(p.clips().get(i)));
            }
        }
    }

    @Test
    void fewClipsGiveOnePartitionEachAndNoneGiveNone() {
        ClipPlanner planner = new ClipPlanner(FIVE_B, 300);
        assertThat(planner.plan(List.of(clip(1, 5, 2), clip(2, 5, 2)), 8)).hasSize(2);
        assertThat(planner.plan(List.of(), 8)).isEmpty();
    }
}
