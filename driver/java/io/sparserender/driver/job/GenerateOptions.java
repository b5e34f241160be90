package io.sparserender.driver.job;

import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.prompts.ClipDefaults;
import io.sparserender.driver.prompts.PolicyCanonicalizer;
import io.sparserender.driver.prompts.PromptFormat;
import java.util.Objects;
import java.util.function.ToDoubleFunction;

/**
 * One generate run.
 *
 * @param format      null to choose from the prompt path's extension
 * @param runId       null for the deterministic default (date + hash of inputs), so rerunning the same
 *                    command the same day resumes the same run
 * @param limit       render at most this many clips (0 = all)
 * @param referenceFraction fraction of clips, chosen by clip id ({@link ReferenceSampling}), also rendered with
 *                    dense attention and compared with it (0 = none, 1 = all)
 * @param clipSeconds estimated GPU seconds of a clip, for planning
 */
public record GenerateOptions(String prompts, PromptFormat format, String out, String runId, int limit,
                              double referenceFraction, ClipDefaults defaults, PolicyCanonicalizer policies, RendererSettings renderer,
                              ToDoubleFunction<io.sparserender.engine.pipeline.ClipSpec> clipSeconds,
                              double targetPartitionSeconds) {
    public GenerateOptions {
        Objects.requireNonNull(prompts, "prompts is null");
        Objects.requireNonNull(out, "out is null");
        Objects.requireNonNull(defaults, "defaults is null");
        Objects.requireNonNull(policies, "policies is null");
        Objects.requireNonNull(renderer, "renderer is null");
        Objects.requireNonNull(clipSeconds, "clipSeconds is null");
        if (limit < 0) {
            throw new IllegalArgumentException("Invalid --limit " + limit + ": must be 0 (all) or more");
        }
        ReferenceSampling.checkFraction(referenceFraction);
    }
}
