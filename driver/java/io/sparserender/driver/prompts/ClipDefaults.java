package io.sparserender.driver.prompts;

import java.util.Objects;

/**
 * Job-level values for every clip field a prompt row may leave out, plus the model facts that
 * validation needs.
 *
 * @param spatialStride width and height must be multiples of this (VAE stride × patch size)
 * @param guidanceLow   the low-noise expert's guidance for two-expert models, NaN otherwise
 */
public record ClipDefaults(
        String model,
        String modelRevision,
        int spatialStride,
        String negativePrompt,
        long seed,
        int width,
        int height,
        int frames,
        int steps,
        double guidance,
        double guidanceLow,
        double shift,
        String policy) implements java.io.Serializable {
    public ClipDefaults {
        Objects.requireNonNull(model, "model is null");
        Objects.requireNonNull(modelRevision, "modelRevision is null");
        Objects.requireNonNull(negativePrompt, "negativePrompt is null");
        Objects.requireNonNull(policy, "policy is null");
        if (spatialStride <= 0) {
            throw new IllegalArgumentException("Invalid spatial stride: " + spatialStride);
        }
    }
}
