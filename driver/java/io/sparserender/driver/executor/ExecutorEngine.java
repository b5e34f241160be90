package io.sparserender.driver.executor;

import io.sparserender.driver.staging.ModelSource;
import io.sparserender.driver.staging.ModelStaging;
import io.sparserender.driver.staging.StagedModel;
import io.sparserender.driver.staging.StagingSettings;
import io.sparserender.engine.pipeline.ClipRenderer;
import org.apache.hadoop.conf.Configuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one renderer of this executor JVM (DESIGN §5: the model is loaded once per executor, tasks
 * come and go). Started by {@link RenderPlugin} at executor start, or by the first task where no
 * plugin is configured (local mode). A model given as a FileSystem URI is first staged to this host's disk
 * (driver.staging), once per JVM; the factory gets the local copy.
 *
 * <p>A start that fails is tried once: the failure is kept, and every later request for the same
 * settings gets a {@link RendererStartException} with the same message at once, so a retried task never
 * loads a broken model again.
 */
public final class ExecutorEngine {
    private static final Logger LOG = LoggerFactory.getLogger(ExecutorEngine.class);
    private static ClipRenderer renderer;
    private static RendererSettings started;
    private static RendererSettings failedSettings;
    private static RendererStartException failure;
    private static int startAttempts;

    private ExecutorEngine() {}

    /**
     * @param staging    where a remote model is staged
     * @param hadoopConf how to reach it
     */
    public static synchronized ClipRenderer get(RendererSettings settings, int deviceIndex, StagingSettings staging,
                                                Configuration hadoopConf) {
        if (renderer == null) {
            start(settings, deviceIndex, staging, hadoopConf);
        } else if (!started.equals(settings)) {
            throw new IllegalStateException("Cannot render with " + settings + ": this executor runs " + started);
        }
        return renderer;
    }

    /** Starts the renderer, or throws the {@link RendererStartException} of this or an earlier failed start. */
    static synchronized void start(RendererSettings settings, int deviceIndex, StagingSettings staging,
                                   Configuration hadoopConf) {
        if (renderer != null) {
            return;
        }
        if (failure != null && settings.equals(failedSettings)) {
            throw new RendererStartException(failure.getMessage(), failure);
        }
        startAttempts++;
        long t0 = System.nanoTime();
        try {
            RendererSettings local = settings;
            if (ModelSource.isRemote(settings.model())) {
                StagedModel staged = ModelStaging.stage(settings.model(), settings.options().get("model_source_key"),
                        staging, hadoopConf);
                RenderMetrics.current().staged(staged);
                local = settings.withModel(staged.dir().toString());
            }
            ClipRendererFactory factory = (ClipRendererFactory) Class.forName(settings.factoryClass())
                    .getDeclaredConstructor().newInstance();
            renderer = factory.create(local, deviceIndex);
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw fail(settings, new IllegalStateException("Cannot create renderer factory " + settings.factoryClass()
                    + ": " + e, e));
        } catch (RuntimeException | LinkageError | OutOfMemoryError e) {
            throw fail(settings, e);
        }
        started = settings;
        failure = null;
        failedSettings = null;
        LOG.info("Renderer ready on {} in {} ms", renderer.device(), (System.nanoTime() - t0) / 1_000_000);
    }

    private static RendererStartException fail(RendererSettings settings, Throwable cause) {
        failure = RendererStartException.of(settings, cause);
        failedSettings = settings;
        LOG.error(failure.getMessage());
        return failure;
    }

    /** How many times this JVM tried to build a renderer (for tests: a failed start is not retried). */
    public static synchronized int startAttempts() {
        return startAttempts;
    }

    /** Closes the renderer and forgets a failed start. */
    public static synchronized void shutdown() {
        failure = null;
        failedSettings = null;
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
