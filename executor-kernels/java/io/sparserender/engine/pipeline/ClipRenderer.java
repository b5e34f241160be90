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
    RenderResult render(ClipSpec spec, Path workDir, RenderListener listener);

    /** The device this renderer runs on, e.g. "cpu" or "cuda:0 NVIDIA H100 (GPU-uuid)". */
    String device();

    @Override
    void close();
}
