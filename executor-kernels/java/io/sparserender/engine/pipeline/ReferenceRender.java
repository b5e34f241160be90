package io.sparserender.engine.pipeline;

import io.sparserender.engine.quality.CapturedRender;
import io.sparserender.engine.quality.ClipQuality;
import io.sparserender.engine.quality.FrameComparison;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Quality sampling (DESIGN §6, {@code --reference-fraction}): renders a clip as asked, then the same spec with
 * dense attention on the same renderer (same seed, prompt, size, steps: only the policy differs), and compares
 * the two: PSNR and SSIM of the 8-bit frames, relative L2 of the final latents, and the temporal flicker of
 * both. A clip whose own policy is dense is still rendered twice, so "dense against itself gives zero error"
 * is a measurement of the renderer's determinism, not an assumption.
 */
public final class ReferenceRender {
    private ReferenceRender() {}

    /**
     * Renders {@code spec} and its reference, the same spec with {@code referencePolicy} (dense attention, in
     * the canonical spelling the run's policies use, so that the reference's clip id is the id a dense render of
     * this clip has), into separate folders under {@code workDir}; the result is
     * the clip's own render with {@link RenderResult#reference()} set and the reference's time added as stage
     * "reference" (and to "total" when the renderer reports one). Progress of the reference render is reported
     * under this clip's id with stages prefixed "reference ".
     */
    public static RenderResult render(ClipRenderer renderer, ClipSpec spec, String referencePolicy, Path workDir,
                                      RenderListener listener) {
        Path own = createDirectory(workDir.resolve("clip"));
        Path ref = createDirectory(workDir.resolve("reference"));
        RenderResult result = renderer.render(spec, own, listener, true);
        long t0 = System.nanoTime();
        ClipSpec dense = spec.withPolicy(referencePolicy);
        RenderResult reference = renderer.render(dense, ref,
                (id, stage, done, total) -> listener.progress(spec.clipId(), "reference " + stage, done, total), true);
        ClipQuality quality = FrameComparison.compare(captured(result, spec), captured(reference, dense));
        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<String, Double> stages = new LinkedHashMap<>(result.stageSeconds());
        stages.put("reference", seconds);
        stages.computeIfPresent("total", (k, v) -> v + seconds);
        return new RenderResult(result.video(), stages, result.attention(),
                Math.max(result.peakDeviceBytes(), reference.peakDeviceBytes()), null,
                new RenderResult.Reference(referencePolicy, dense.clipId(), reference.video(), seconds, quality),
                result.stagePeakBytes());
    }

    private static CapturedRender captured(RenderResult r, ClipSpec spec) {
        if (r.captured() == null) {
            throw new IllegalStateException("Cannot compare clip " + spec.clipId() + " with its dense reference: "
                    + "the renderer kept no frames (render(..., capture = true) must fill RenderResult.captured)");
        }
        return r.captured();
    }

    private static Path createDirectory(Path p) {
        try {
            return Files.createDirectories(p);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create work folder " + p + ": " + e.getMessage(), e);
        }
    }
}
