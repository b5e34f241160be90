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
 * plugin is configured. A model given as a FileSystem URI is first staged to this host's disk
 * (driver.staging), once per JVM; the factory gets the local copy.
 */
public final class ExecutorEngine {
    private static final Logger LOG = LoggerFactory.getLogger(ExecutorEngine.class);
    private static ClipRenderer renderer;
    private static RendererSettings started;

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

    static synchronized void start(RendererSettings settings, int deviceIndex, StagingSettings staging,
                                   Configuration hadoopConf) {
        if (renderer != null) {
            return;
        }
        ClipRendererFactory factory;
        try {
            factory = (ClipRendererFactory) Class.forName(settings.factoryClass()).getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw new IllegalStateException("Cannot create renderer factory " + settings.factoryClass() + ": " + e, e);
        }
        RendererSettings local = settings;
        if (ModelSource.isRemote(settings.model())) {
            StagedModel staged = ModelStaging.stage(settings.model(), settings.options().get("model_source_key"),
                    staging, hadoopConf);
            RenderMetrics.current().staged(staged);
            local = settings.withModel(staged.dir().toString());
        }
        long t0 = System.nanoTime();
        renderer = factory.create(local, deviceIndex);
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
