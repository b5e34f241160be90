package io.sparserender.engine.model.wan;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.engine.weights.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Writes a random Wan transformer as a real diffusers-layout folder ({@code config.json} and
 * {@code diffusion_pytorch_model.safetensors}), so tests and the quickstart go through the same loader as
 * released checkpoints. The weights are a pure function of (config, seed, dtype): each tensor draws from
 * its own stream, split in the fixed order of {@link WanKeys#expected}.
 *
 * <p>Scales keep activations of order one: linear weights uniform with variance 1/in, biases and
 * modulation tables ±0.1·(1/√dim)-ish, norm weights 1 ± 0.1.
 */
public final class WanTiny {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String WEIGHTS = "diffusion_pytorch_model.safetensors";

    private WanTiny() {}

    /** Writes the folder for a preset that has a generator (wan-tiny). */
    public static void write(WanPreset preset, Path dir) {
        if (preset.generator() == null) {
            throw new IllegalArgumentException("Cannot generate weights for preset '" + preset.name()
                    + "': it has no generator (released models are downloaded, not generated)");
        }
        write(preset.transformer(), preset.generator().seed(), preset.generator().dtype(), dir);
    }

    public static void write(WanConfig config, long seed, DType dtype, Path dir) {
        SplittableRandom root = new SplittableRandom(seed);
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt").metadata("generator", "sparse-render WanTiny seed " + seed);
        java.util.List<io.sparserender.engine.weights.GeneratedTensors.Spec> specs = new java.util.ArrayList<>();
        for (WanKeys.Expected e : WanKeys.expected(config)) {
            SplittableRandom r = root.split();
            int[] s = e.shape();
            String n = e.name();
            specs.add(new io.sparserender.engine.weights.GeneratedTensors.Spec(n, s, () -> {
                float[] v = new float[(int) io.sparserender.engine.tensor.Tensor.numel(s)];
                if (n.endsWith("norm_q.weight") || n.endsWith("norm_k.weight") || n.endsWith("norm2.weight")) {
                    fill(r, v, 1.0, 0.1);
                } else if (n.endsWith("scale_shift_table")) {
                    fill(r, v, 0.0, 1.0 / Math.sqrt(config.dim()));
                } else if (n.endsWith(".bias")) {
                    fill(r, v, 0.0, 0.1);
                } else {
                    int fanIn = v.length / s[0];
                    fill(r, v, 0.0, Math.sqrt(3.0 / fanIn)); // uniform(−a, a) has variance a²/3 = 1/fanIn
                }
                return v;
            }));
        }
        io.sparserender.engine.weights.GeneratedTensors.addAll(w, dtype, specs);
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config.toDiffusersJson()) + "\n");
        } catch (IOException e) {
            throw new WeightsException("Cannot write " + dir.resolve("config.json") + ": " + e.getMessage(), e);
        }
        w.write(dir.resolve(WEIGHTS));
    }

    /** Uniform values in [center − halfWidth, center + halfWidth). */
    private static void fill(SplittableRandom r, float[] v, double center, double halfWidth) {
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (center + halfWidth * (2 * r.nextDouble() - 1));
        }
    }
}
