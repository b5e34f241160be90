package io.sparserender.engine.weights;

import io.sparserender.engine.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Adds generated tensors to a {@link SafetensorsWriter} in their given order, generating a batch of them
 * at a time on all cores (each tensor's values depend only on its own generator, so the file is the same
 * as a sequential generation's; at most one batch of float arrays is alive at once).
 */
public final class GeneratedTensors {
    /** One tensor to generate. */
    public record Spec(String name, int[] shape, Supplier<float[]> values) {}

    private GeneratedTensors() {}

    public static void addAll(SafetensorsWriter w, DType dtype, List<Spec> specs) {
        int batch = Math.max(1, Runtime.getRuntime().availableProcessors());
        for (int start = 0; start < specs.size(); start += batch) {
            List<Spec> part = specs.subList(start, Math.min(specs.size(), start + batch));
            List<float[]> values = new ArrayList<>(part.parallelStream().map(s -> s.values().get()).toList());
            for (int i = 0; i < part.size(); i++) {
                w.add(part.get(i).name(), dtype, part.get(i).shape(), values.get(i));
                values.set(i, null);
            }
        }
    }
}
