package io.sparserender.engine.pipeline;

/** Progress of one clip, for console progress lines and executor metrics. */
@FunctionalInterface
public interface RenderListener {
    RenderListener NONE = (clipId, stage, done, total) -> {};

    /** @param stage "text", "dit", "vae", "encode"; done/total count steps within the stage */
    void progress(String clipId, String stage, int done, int total);
}
