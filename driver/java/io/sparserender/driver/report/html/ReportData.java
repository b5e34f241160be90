package io.sparserender.driver.report.html;

import java.util.List;
import java.util.Objects;

/**
 * Everything the HTML report shows, already aggregated (plain values: this package never touches Spark).
 * Doubles may be NaN where a value was not measured (no sampled recall, no reference clip).
 */
public record ReportData(String title, String statsUri, String range, String generated, Totals totals,
                         List<HeatCell> heat, List<HistBin> recall, List<ClipPoint> clips, int clipsTotal,
                         List<StageBar> stages, List<Night> nights, List<RunRow> runs, List<WorstClip> lowestRecall,
                         List<WorstClip> highestError, List<WorstClip> slowest) {
    public ReportData {
        Objects.requireNonNull(title, "title is null");
        heat = List.copyOf(heat);
        recall = List.copyOf(recall);
        clips = List.copyOf(clips);
        stages = List.copyOf(stages);
        nights = List.copyOf(nights);
        runs = List.copyOf(runs);
        lowestRecall = List.copyOf(lowestRecall);
        highestError = List.copyOf(highestError);
        slowest = List.copyOf(slowest);
    }

    public record Totals(long runs, long clips, long failed, double gpuHours, double tileSparsity, double computeSaved,
                         long sampledLayerSteps, long referenceClips) {}

    /** Mean tile sparsity of one layer at one step of one policy × model. */
    public record HeatCell(String policy, String model, int layer, int step, double tileSparsity) {}

    public record HistBin(String policy, double lo, double hi, long count) {}

    /**
     * One clip in the sparsity-versus-quality scatters. relL2 is the mean sampled attention error; the quality
     * fields (psnr, +∞ when identical; ssim; latentRelL2; flicker of the clip and of its reference) are NaN
     * unless the clip has a dense reference render.
     */
    public record ClipPoint(String clipId, String policy, double tileSparsity, double relL2, double psnr, double ssim,
                            double latentRelL2, double flicker, double flickerReference) {
        public boolean hasReference() {
            return !Double.isNaN(psnr);
        }
    }

    /** Mean seconds per clip of one stage in one run. */
    public record StageBar(String runId, String stage, double meanSeconds) {}

    public record Night(String dt, long runs, long rendered, long failed, double clipsPerHour, double tileSparsity) {}

    public record RunRow(String runId, String dt, String model, long rendered, long failed, long statsClips,
                         double gpuHours, double tileSparsity, double clipsPerHour, List<String> failures) {
        public RunRow {
            failures = List.copyOf(failures);
        }
    }

    /** A clip in a worst-clips table; hrefs point at its video and sidecar. */
    public record WorstClip(String clipId, String runId, String prompt, String policy, String model,
                            double tileSparsity, double recallMean, double recallP05, double relL2,
                            double totalSeconds, String videoHref, String sidecarHref) {}

}
