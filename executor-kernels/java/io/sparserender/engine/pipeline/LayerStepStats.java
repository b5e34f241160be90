package io.sparserender.engine.pipeline;

/**
 * Self-attention statistics of one DiT layer at one denoising step, averaged over heads (and over
 * the conditional and unconditional passes).
 *
 * @param tileSparsity skipped tiles / all tiles
 * @param computeSaved attention FLOPs avoided / dense attention FLOPs
 * @param recallMean   mean row recall where sampled, NaN otherwise
 * @param recallP05    5th-percentile row recall where sampled, NaN otherwise
 * @param relL2        output error versus dense where sampled, NaN otherwise
 */
public record LayerStepStats(int step, int layer, double tileSparsity, double computeSaved,
                             double recallMean, double recallP05, double relL2) {}
