package io.sparserender.driver.plan;

import io.sparserender.engine.pipeline.ClipSpec;
import java.util.function.ToDoubleFunction;

/**
 * Estimated GPU seconds of one clip from FLOPs: per DiT forward, 2·P·L for the weights (P
 * parameters, L tokens) plus 4·layers·dim·L² for self-attention; two forwards per step with
 * classifier-free guidance; over an assumed sustained rate. Only the ratios between clips matter for
 * balancing; the scale sizes partitions.
 *
 * @param spatialStride pixels per token side (VAE stride × patch)
 * @param flopsPerSecond assumed sustained rate of the executor's device
 */
public record DitCostModel(double parameters, int layers, int dim, int spatialStride, int temporalStride,
                           double flopsPerSecond) implements ToDoubleFunction<ClipSpec> {
    public long tokens(ClipSpec c) {
        long latentFrames = (c.frames() - 1) / temporalStride + 1;
        return latentFrames * (c.height() / spatialStride) * (c.width() / spatialStride);
    }

    @Override
    public double applyAsDouble(ClipSpec c) {
        double l = tokens(c);
        double perForward = 2 * parameters * l + 4.0 * layers * dim * l * l;
        return c.steps() * 2 * perForward / flopsPerSecond;
    }
}
