package io.sparserender.engine.vae;

import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.weights.SafetensorsWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Tiny Wan VAE decoders with seeded random weights, written as a real diffusers {@code vae/} folder
 * (config.json + diffusion_pytorch_model.safetensors) for tests and the quickstart. Each tensor's values
 * depend only on the seed and its name. Weights are scaled by 1/√fan-in so activations stay O(1).
 */
public final class WanVaeTiny {
    private WanVaeTiny() {}

    /** Wan 2.1 form: ×8 space, ×4 time, widths 16,16,16,16,8 (8 at full resolution), one res block. */
    public static WanVaeConfig wan21(int zDim, long seed) {
        return new WanVaeConfig(8, 8, zDim, List.of(1, 2, 2, 2), 1, List.of(false, true, true), false, 3, 1,
                means(zDim, seed), stds(zDim, seed), true);
    }

    /** Wan 2.2 form: ×16 space (×8 decoder, ×2 patch), residual up-stages, 12 output channels, widths 24 … 12. */
    public static WanVaeConfig wan22(int zDim, long seed) {
        return new WanVaeConfig(8, 12, zDim, List.of(1, 2, 2, 2), 1, List.of(false, true, true), true, 12, 2,
                means(zDim, seed), stds(zDim, seed), true);
    }

    /**
     * The released decoder architecture (REFERENCE.md: 2.1 widths 384…96, 2.2 widths 1024…256, two res blocks)
     * with generated latent constants: for full-size random-weight benchmarks.
     */
    public static WanVaeConfig fullSize(String vae, int zDim, long seed) {
        if (vae.equals("wan2.2")) {
            return new WanVaeConfig(160, 256, zDim, List.of(1, 2, 4, 4), 2, List.of(false, true, true), true, 12, 2,
                    means(zDim, seed), stds(zDim, seed), false);
        }
        return new WanVaeConfig(96, 96, zDim, List.of(1, 2, 4, 4), 2, List.of(false, true, true), false, 3, 1,
                means(zDim, seed), stds(zDim, seed), true);
    }

    /** Writes config.json and the decoder weights (plus nothing of the encoder) into {@code vaeFolder}. */
    public static void write(Path vaeFolder, WanVaeConfig config, long seed, DType dtype) {
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        java.util.List<io.sparserender.engine.weights.GeneratedTensors.Spec> specs = new java.util.ArrayList<>();
        for (Map.Entry<String, int[]> e : WanVaeWeights.decoderShapes(config).entrySet()) {
            specs.add(new io.sparserender.engine.weights.GeneratedTensors.Spec(e.getKey(), e.getValue(),
                    () -> values(e.getKey(), e.getValue(), seed)));
        }
        io.sparserender.engine.weights.GeneratedTensors.addAll(w, dtype, specs);
        config.write(vaeFolder.resolve("config.json"));
        w.write(vaeFolder.resolve("diffusion_pytorch_model.safetensors"));
    }

    static float[] values(String name, int[] shape, long seed) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        SplittableRandom r = new SplittableRandom(seed ^ fnv(name));
        float[] v = new float[n];
        if (name.endsWith(".gamma")) {
            for (int i = 0; i < n; i++) {
                v[i] = (float) (1 + 0.1 * r.nextGaussian());
            }
        } else if (name.endsWith(".bias")) {
            for (int i = 0; i < n; i++) {
                v[i] = (float) (0.02 * r.nextGaussian());
            }
        } else {
            double std = 1 / Math.sqrt((double) n / shape[0]);
            for (int i = 0; i < n; i++) {
                v[i] = (float) (std * r.nextGaussian());
            }
        }
        return v;
    }

    private static List<Double> means(int zDim, long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ fnv("latents_mean"));
        List<Double> out = new ArrayList<>();
        for (int i = 0; i < zDim; i++) {
            out.add(Math.round(r.nextGaussian() * 0.5 * 1e4) / 1e4);
        }
        return out;
    }

    private static List<Double> stds(int zDim, long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ fnv("latents_std"));
        List<Double> out = new ArrayList<>();
        for (int i = 0; i < zDim; i++) {
            out.add(Math.round((0.5 + r.nextDouble()) * 1e4) / 1e4);
        }
        return out;
    }

    private static long fnv(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b;
            h *= 0x100000001b3L;
        }
        return h;
    }
}
