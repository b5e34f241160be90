package io.sparserender.driver.executor;

import io.sparserender.engine.pipeline.ClipRenderer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one renderer of this executor JVM (DESIGN §5: the model is loaded once per executor, tasks
 * come and go). Started by {@link RenderPlugin} at executor start, or by the first task where no
 * plugin is configured (local mode).
 */
public final class ExecutorEngine {
    private static final Logger LOG = LoggerFactory.getLogger(ExecutorEngine.class);
    private static ClipRenderer renderer;
    private static RendererSettings started;

    private ExecutorEngine() {}

    public static synchronized ClipRenderer get(RendererSettings settings, int deviceIndex) {
        if (renderer == null) {
            start(settings, deviceIndex);
        } else if (!started.equals(settings)) {
            throw new IllegalStateException("Cannot render with " + settings + ": this executor runs " + started);
        }
        return renderer;
    }

    static synchronized void start(RendererSettings settings, int deviceIndex) {
        if (renderer != null) {
            return;
        }
        ClipRendererFactory factory;
        try {
            factory = (ClipRendererFactory) Class.forName(settings.factoryClass()).getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw new IllegalStateException("Cannot create renderer factory " + settings.factoryClass() + ": " + e, e);
        }
        long t0 = System.nanoTime();
        renderer = factory.create(settings, deviceIndex);
        started = settings;
        LOG.info("Renderer ready on {} in {} ms", renderer.device(), (System.nanoTime() - t0) / 1_000_000);
    }

    public static synchronized void shutdown() {
        if (renderer != null) {
            try {
                renderer.close();
            } finally {
                renderer = null;
                started = null;
            }
        }
    }
}
