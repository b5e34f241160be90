package io.sparserender.engine.sampler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;

class GuidanceAndExpertTest {
    @Test
    void guidanceCombinesInFloat32() {
        float[] u = {1.0f, -2.0f, 0.1f};
        float[] c = {3.0f, -1.0f, 0.3f};
        float[] v = Guidance.combine(u, c, 5.0f);
        assertThat(v).containsExactly(11.0f, 3.0f, 0.1f + 5.0f * (0.3f - 0.1f));
        assertThat(Guidance.combine(u, c, 1.0f)).containsExactly(c);
        assertThat(Guidance.combine(u, c, 0.0f)).containsExactly(u);
        assertThatThrownBy(() -> Guidance.combine(u, new float[2], 1f)).hasMessageContaining("3 elements, conditional 2");
    }

    @Test
    void guidanceOverOpsMatchesHost() {
        float[] u = {0.25f, -1.5f, 2.0f, 7.0f};
        float[] c = {1.25f, 0.5f, -2.0f, 7.5f};
        Tensor t = Guidance.combine(new CpuOps(), new Tensor(u, 2, 2), new Tensor(c, 2, 2), 4.0f);
        assertThat(t.data()).containsExactly(Guidance.combine(u, c, 4.0f));
    }

    @Test
    void a14bSwitchesExpertAndGuidanceAtTheBoundary() {
        ExpertSchedule e = ExpertSchedule.a14b();
        assertThat(e.expertFor(875)).isEqualTo(ExpertSchedule.Expert.HIGH_NOISE);
        assertThat(e.expertFor(874)).isEqualTo(ExpertSchedule.Expert.LOW_NOISE);
        assertThat(e.guidanceFor(999)).isEqualTo(4.0f);
        assertThat(e.guidanceFor(874)).isEqualTo(3.0f);
    }

    @Test
    void singleModelUsesOneExpertThroughout() {
        ExpertSchedule e = ExpertSchedule.single(5.0f);
        assertThat(e.split(SigmaSchedule.wanOfficial(50, 5.0))).containsExactly(50, 0);
        assertThat(e.guidanceFor(0)).isEqualTo(5.0f);
    }
}
