package io.sparserender.driver.executor;

import io.sparserender.engine.pipeline.ClipRenderer;

/** Builds the executor's renderer once per JVM; {@code deviceIndex} is the GPU Spark assigned, or -1. */
public interface ClipRendererFactory {
    ClipRenderer create(RendererSettings settings, int deviceIndex);
}
