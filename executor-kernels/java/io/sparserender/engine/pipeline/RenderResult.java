package io.sparserender.engine.pipeline;

import io.sparserender.engine.quality.CapturedRender;
import io.sparserender.engine.quality.ClipQuality;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What rendering one clip produced.
 *
 * @param video           the MP4 in the work folder
 * @param stageSeconds    wall time per stage ("text", "dit", "attention", "vae_encode", "total"; "reference"
 *                        for the dense re-render of a sampled clip, which "total" then includes; "expert_swap", part
 *                        of "dit", where two experts share device memory)
 * @param attention       per layer × step statistics
 * @param peakDeviceBytes peak device memory of the clip, weights included (0 on the CPU)
 * @param captured        the frames and latents kept for a comparison, when the render was asked to; else null
 * @param reference       the dense reference render of a quality-sampled clip and the comparison; else null
 * @param stagePeakBytes  peak device memory per stage ("text", "dit", "vae"), weights resident then included;
 *                        empty where not measured
 */
public record RenderResult(Path video, Map<String, Double> stageSeconds, List<LayerStepStats> attention,
                           long peakDeviceBytes, CapturedRender captured, Reference reference, Map<String, Long> stagePeakBytes) {
    public RenderResult {
        Objects.requireNonNull(video, "video is null");
        stageSeconds = Map.copyOf(stageSeconds);
        attention = List.copyOf(attention);
        stagePeakBytes = Map.copyOf(stagePeakBytes);
    }

    /** A render without per-stage memory peaks. */
    public RenderResult(Path video, Map<String, Double> stageSeconds, List<LayerStepStats> attention,
                        long peakDeviceBytes, CapturedRender captured, Reference reference) {
        this(video, stageSeconds, attention, peakDeviceBytes, captured, reference, Map.of());
    }

    /** A render without captured frames or reference. */
    public RenderResult(Path video, Map<String, Double> stageSeconds, List<LayerStepStats> attention,
                        long peakDeviceBytes) {
        this(video, stageSeconds, attention, peakDeviceBytes, null, null);
    }

    /**
     * The dense re-render of a sampled clip ({@code --reference-fraction}).
     *
     * @param policy  the reference's policy ("dense")
     * @param clipId  the clip id of the reference's spec (this clip's spec with the reference policy)
     * @param video   the reference MP4 in the work folder
     * @param seconds wall time of the reference render and the comparison
     * @param quality this render compared with the reference
     */
    public record Reference(String policy, String clipId, Path video, double seconds, ClipQuality quality) {
        public Reference {
            Objects.requireNonNull(policy, "policy is null");
            Objects.requireNonNull(clipId, "clipId is null");
            Objects.requireNonNull(video, "video is null");
            Objects.requireNonNull(quality, "quality is null");
        }
    }

    public double tileSparsity() {
        return attention.stream().mapToDouble(LayerStepStats::tileSparsity).average().orElse(0);
    }

    public double computeSaved() {
        return attention.stream().mapToDouble(LayerStepStats::computeSaved).average().orElse(0);
    }
}
