package io.sparserender.engine.sampler;

/**
 * Which DiT expert and guidance scale serve a timestep. Wan 2.2 A14B runs its high-noise expert while
 * the integer timestep t ≥ boundary (boundary = 0.875 × 1000 = 875) with guidance 4.0, and the
 * low-noise expert after with guidance 3.0 ({@code wan/text2video.py}: {@code t.item() >= boundary};
 * {@code sample_guide_scale = (3.0, 4.0)} as (low, high)). A single-model schedule (TI2V-5B) has no
 * boundary: every step is {@link Expert#HIGH_NOISE} (the only model) at one guidance scale.
 *
 * @param boundary timestep at and above which the high-noise expert runs; 0 for single-model schedules
 * @param highNoiseGuidance guidance scale while t ≥ boundary
 * @param lowNoiseGuidance guidance scale while t &lt; boundary
 */
public record ExpertSchedule(double boundary, float highNoiseGuidance, float lowNoiseGuidance) {
    /** Wan's boundary ratio times its 1000 training timesteps. */
    public static final double A14B_BOUNDARY = 0.875 * SigmaSchedule.NUM_TRAIN_TIMESTEPS;

    public enum Expert {
        /** diffusers {@code transformer/}; the only model of single-expert checkpoints. */
        HIGH_NOISE,
        /** diffusers {@code transformer_2/}. */
        LOW_NOISE
    }

    public ExpertSchedule {
        if (!(boundary >= 0) || Double.isInfinite(boundary)) {
            throw new IllegalArgumentException("Invalid expert boundary timestep: " + boundary);
        }
        if (!Float.isFinite(highNoiseGuidance) || !Float.isFinite(lowNoiseGuidance)) {
            throw new IllegalArgumentException("Invalid guidance scales: high " + highNoiseGuidance
                    + ", low " + lowNoiseGuidance);
        }
    }

    /** Wan 2.2 T2V-A14B: boundary 875, guidance 4.0 (high noise) and 3.0 (low noise). */
    public static ExpertSchedule a14b() {
        return new ExpertSchedule(A14B_BOUNDARY, 4.0f, 3.0f);
    }

    /** One model, one guidance scale (TI2V-5B: 5.0). */
    public static ExpertSchedule single(float guidance) {
        return new ExpertSchedule(0, guidance, guidance);
    }

    public Expert expertFor(long timestep) {
        return timestep >= boundary ? Expert.HIGH_NOISE : Expert.LOW_NOISE;
    }

    public float guidanceFor(long timestep) {
        return expertFor(timestep) == Expert.HIGH_NOISE ? highNoiseGuidance : lowNoiseGuidance;
    }

    /** How many of the schedule's steps each expert runs: {high, low}. */
    public int[] split(SigmaSchedule schedule) {
        int high = 0;
        for (long t : schedule.timesteps()) {
            if (expertFor(t) == Expert.HIGH_NOISE) {
                high++;
            }
        }
        return new int[] {high, schedule.steps() - high};
    }
}
