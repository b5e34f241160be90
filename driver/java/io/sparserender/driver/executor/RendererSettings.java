package io.sparserender.driver.executor;

import java.io.Serializable;
import java.util.Map;
import java.util.Objects;

/**
 * How each executor builds its renderer: which factory, backend and model. Sent to executors inside
 * task closures (Java serialization), never through Kryo.
 *
 * @param factoryClass a {@link ClipRendererFactory} with a public no-argument constructor
 * @param backend      "cpu" or "cuda"
 * @param model        model preset name or checkpoint location
 * @param options      further settings: {@code model_revision} (the revision the driver put in clip ids;
 *                     a renderer whose model has another refuses to start), {@code model_source_key} (for a
 *                     staged model: what its listing was at the driver), and factory-specific ones
 */
public record RendererSettings(String factoryClass, String backend, String model, Map<String, String> options)
        implements Serializable {
    public RendererSettings {
        Objects.requireNonNull(factoryClass, "factoryClass is null");
        Objects.requireNonNull(backend, "backend is null");
        Objects.requireNonNull(model, "model is null");
        options = Map.copyOf(options);
    }

    /**
     * The settings as text that is the same in every JVM: the options sorted by key. ({@link #toString} is not: the
     * options are an immutable map, whose iteration order Java randomizes per JVM, so two runs of the same command
     * could hash it differently.)
     */
    public String canonical() {
        return factoryClass + "|" + backend + "|" + model + "|" + new java.util.TreeMap<>(options);
    }

    /** The same settings with the model somewhere else (a staged copy). */
    public RendererSettings withModel(String otherModel) {
        return new RendererSettings(factoryClass, backend, otherModel, options);
    }
}
