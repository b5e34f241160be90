package io.sparserender.engine.sampler;

import io.sparserender.engine.tensor.Tensor;
import java.util.Objects;

/**
 * The denoising loop of Wan's text-to-video pipelines, backend-neutral: for each timestep t of the
 * schedule, pick the expert and guidance scale for t, run the model on the conditional and the
 * unconditional context, combine v = v_u + g·(v_c − v_u) in float32, and take one UniPC step
 * ({@code wan/text2video.py}'s loop). The model is called once per step for both contexts (the caller
 * batches them as B = 2 through the DiT); latents are host float32 tensors between steps.
 */
public final class SamplingLoop {
    /** The flow predictions for {@code latent} at integer {@code timestep}, with and without the prompt. */
    @FunctionalInterface
    public interface FlowModel {
        Flows flow(ExpertSchedule.Expert expert, Tensor latent, long timestep);
    }

    /** The conditional and unconditional predictions of one step, each shaped like the latent. */
    public record Flows(Tensor conditional, Tensor unconditional) {}

    /** Called after every step (progress, statistics); may be a no-op. */
    @FunctionalInterface
    public interface StepListener {
        void afterStep(int step, long timestep, ExpertSchedule.Expert expert, float guidance);
    }

    private SamplingLoop() {}

    /** Runs all steps from {@code noise} (σ = first sigma) and returns the final latent. */
    public static Tensor run(Tensor noise, SigmaSchedule schedule, ExpertSchedule experts, FlowModel model,
            StepListener listener) {
        Objects.requireNonNull(model, "model is null");
        FlowUniPcSampler sampler = new FlowUniPcSampler(schedule);
        Tensor x = noise;
        for (int i = 0; i < schedule.steps(); i++) {
            long t = sampler.nextTimestep();
            ExpertSchedule.Expert expert = experts.expertFor(t);
            float g = experts.guidanceFor(t);
            Flows f = model.flow(expert, x, t);
            Tensor v = new Tensor(Guidance.combine(f.unconditional().data(), f.conditional().data(), g),
                    f.conditional().shape());
            x = sampler.step(v, x);
            if (listener != null) {
                listener.afterStep(i, t, expert, g);
            }
        }
        return x;
    }
}
