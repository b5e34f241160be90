package io.sparserender.engine.sampler;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SamplingLoopTest {
    /**
     * A model that knows the data x0 returns the exact flow v = (x − x0)/σ for x = (1 − σ)·x0 + σ·noise;
     * then every data prediction is x0 and the sampler must end exactly at x0 (up to float32 rounding).
     */
    @Test
    void exactFlowModelLandsOnTheData() {
        float[] data = {0.5f, -1.25f, 2.0f, 0.0f, 0.75f, -0.1f};
        SigmaSchedule schedule = SigmaSchedule.wanOfficial(12, 5.0);
        Tensor noise = NoiseGenerator.normal(11L, 2, 3);
        double[] sigmaAt = new double[1001];
        for (int i = 0; i < schedule.steps(); i++) {
            sigmaAt[(int) schedule.timestep(i)] = schedule.sigma(i);
        }
        List<String> log = new ArrayList<>();
        SamplingLoop.FlowModel model = (expert, x, t) -> {
            double sigma = sigmaAt[(int) t];
            float[] c = new float[data.length];
            float[] u = new float[data.length];
            for (int e = 0; e < c.length; e++) {
                // with g = 2: u + 2·(c − u) = exact for c = exact + 1, u = exact + 2
                double exact = (x.data()[e] - data[e]) / sigma;
                c[e] = (float) (exact + 1.0);
                u[e] = (float) (exact + 2.0);
            }
            return new SamplingLoop.Flows(new Tensor(c, x.shape()), new Tensor(u, x.shape()));
        };
        Tensor out = SamplingLoop.run(noise, schedule, ExpertSchedule.single(2.0f), model,
                (step, t, expert, g) -> log.add(step + ":" + t + ":" + expert));
        for (int e = 0; e < data.length; e++) {
            assertThat((double) out.data()[e]).isCloseTo(data[e], org.assertj.core.data.Offset.offset(2e-4));
        }
        assertThat(log).hasSize(12).first().isEqualTo("0:" + schedule.timestep(0) + ":HIGH_NOISE");
    }

    @Test
    void a14bLoopSwitchesExpertsAndGuidanceAtTheBoundary() {
        SigmaSchedule schedule = SigmaSchedule.wanOfficial(40, 12.0);
        List<ExpertSchedule.Expert> calls = new ArrayList<>();
        List<Float> scales = new ArrayList<>();
        SamplingLoop.FlowModel model = (expert, x, t) -> {
            calls.add(expert);
            return new SamplingLoop.Flows(new Tensor(new float[x.numel()], x.shape()), new Tensor(new float[x.numel()], x.shape()));
        };
        SamplingLoop.run(NoiseGenerator.normal(1L, 4), schedule, ExpertSchedule.a14b(), model,
                (step, t, expert, g) -> scales.add(g));
        assertThat(calls).hasSize(40);
        assertThat(calls.subList(0, 26)).containsOnly(ExpertSchedule.Expert.HIGH_NOISE);
        assertThat(calls.subList(26, 40)).containsOnly(ExpertSchedule.Expert.LOW_NOISE);
        assertThat(scales.subList(0, 26)).containsOnly(4.0f);
        assertThat(scales.subList(26, 40)).containsOnly(3.0f);
    }
}
