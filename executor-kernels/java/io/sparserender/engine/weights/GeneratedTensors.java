package io.sparserender.engine.weights;

import io.sparserender.engine.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Adds generated tensors to a {@link SafetensorsWriter} in their given order, generating and encoding a batch of
 * them at a time on all cores (each tensor's values depend only on its own generator, so the file is the same
 * as a sequential generation's; at most one batch of float arrays is alive at once). Encoding in the batch too
 * matters at full size: ≈ 2–4 ns per value on one thread was ≈ 20–35 s of a 5B random repo's write.
 */
public final class GeneratedTensors {
    /** One tensor to generate. */
    public record Spec(String name, int[] shape, Supplier<float[]> values) {}

    private GeneratedTensors() {}

    public static void addAll(SafetensorsWriter w, DType dtype, List<Spec> specs) {
        int batch = Math.max(1, Runtime.getRuntime().availableProcessors());
        for (int start = 0; start < specs.size(); start += batch) {
            List<Spec> part = specs.subList(start, Math.min(specs.size(), start + batch));
            List<byte[]> bytes = new ArrayList<>(part.parallelStream()
                    .map(s -> SafetensorsWriter.encode(s.name(), dtype, s.shape(), s.values().get())).toList());
            for (int i = 0; i < part.size(); i++) {
                w.addRaw(part.get(i).name(), dtype, part.get(i).shape(), bytes.get(i));
            }
        }
    }
}
