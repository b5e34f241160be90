package io.sparserender.engine.pipeline;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What rendering one clip produced.
 *
 * @param video           the MP4 in the work folder
 * @param stageSeconds    wall time per stage ("text", "dit", "attention", "vae", "encode")
 * @param attention       per layer × step statistics
 * @param peakDeviceBytes peak device memory (0 on the CPU)
 */
public record RenderResult(Path video, Map<String, Double> stageSeconds, List<LayerStepStats> attention,
                           long peakDeviceBytes) {
    public RenderResult {
        Objects.requireNonNull(video, "video is null");
        stageSeconds = Map.copyOf(stageSeconds);
        attention = List.copyOf(attention);
    }

    public double tileSparsity() {
        return attention.stream().mapToDouble(LayerStepStats::tileSparsity).average().orElse(0);
    }

    public double computeSaved() {
        return attention.stream().mapToDouble(LayerStepStats::computeSaved).average().orElse(0);
    }
}
