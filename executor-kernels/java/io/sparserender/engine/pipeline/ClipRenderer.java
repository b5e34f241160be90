package io.sparserender.engine.pipeline;

import java.nio.file.Path;

/**
 * Renders one clip on this process's device (GPU worker or CPU): prompt to MP4 plus statistics.
 * One instance per executor JVM; the model stays loaded between clips. Implementations must be
 * deterministic: the same spec gives the same frames on any machine and any retry.
 */
public interface ClipRenderer extends AutoCloseable {
    /**
     * Writes the clip's video into {@code workDir} and returns where it is and what was measured.
     * Throws {@link ClipFailedException} for a failure of this clip alone (the executor goes on).
     */
    default RenderResult render(ClipSpec spec, Path workDir, RenderListener listener) {
        return render(spec, workDir, listener, false);
    }

    /**
     * As above; with {@code capture}, also keeps the 8-bit frames exactly as given to the video encoder (a raw
     * file in {@code workDir}) and the sampler's final latents in {@link RenderResult#captured()}, for a
     * comparison with another render of the same clip ({@link ReferenceRender}).
     */
    RenderResult render(ClipSpec spec, Path workDir, RenderListener listener, boolean capture);

    /** The device this renderer runs on, e.g. "cpu" or "cuda:0 NVIDIA H100 (GPU-uuid)". */
    String device();

    @Override
    void close();
}
