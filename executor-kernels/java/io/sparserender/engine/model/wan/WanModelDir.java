package io.sparserender.engine.model.wan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.weights.Checkpoint;
import io.sparserender.engine.weights.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A folder holding one or more Wan transformers (experts), recognised in these forms:
 * <ul>
 *   <li>a transformer folder itself: {@code config.json} (diffusers or original keys) beside its safetensors
 *       (one file, or shards with a {@code *.safetensors.index.json});</li>
 *   <li>a diffusers repo: {@code transformer/} and, for Wan 2.2 A14B, {@code transformer_2/} (high-noise
 *       expert first);</li>
 *   <li>an original Wan 2.2 A14B folder: {@code high_noise_model/} and {@code low_noise_model/};</li>
 *   <li>one {@code .safetensors} file without a config (single-file exports, often with the
 *       {@code model.diffusion_model.} prefix): the config is inferred from the tensor shapes.</li>
 * </ul>
 */
public record WanModelDir(Path root, List<Expert> experts) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One transformer: its name (sub-folder, or "transformer" for a bare folder or file), where its weights are
     * (a folder or one safetensors file) and its config.
     *
     * @param inferred whether the config was inferred from tensor shapes (no config.json)
     */
    public record Expert(String name, Path folder, WanConfig config, boolean inferred) {
        public Expert {
            Objects.requireNonNull(name, "name is null");
            Objects.requireNonNull(folder, "folder is null");
            Objects.requireNonNull(config, "config is null");
        }

        /** Opens the checkpoint, checks it against the config (all problems in one error) and loads it. */
        public <T> WanWeights<T> load(Ops<T> ops) {
            try (Checkpoint ckpt = Checkpoint.open(folder)) {
                return WanWeights.load(ops, ckpt, config);
            }
        }
    }

    public WanModelDir {
        experts = List.copyOf(experts);
    }

    public static WanModelDir resolve(Path dir) {
        if (Files.isRegularFile(dir) && dir.getFileName().toString().endsWith(".safetensors")) {
            // a single-file export without config.json: infer the config from the shapes
            try (Checkpoint c = Checkpoint.open(dir)) {
                return new WanModelDir(dir, List.of(new Expert("transformer", dir, WanConfig.infer(c.tensors(), dir), true)));
            }
        }
        if (!Files.isDirectory(dir)) {
            throw new WeightsException("Cannot open Wan model " + dir + ": " + (Files.exists(dir)
                    ? "not a folder or a .safetensors file" : "no such file or folder"));
        }
        if (isTransformerFolder(dir)) {
            return new WanModelDir(dir, List.of(expert("transformer", dir)));
        }
        for (String[] pair : new String[][] {{"transformer", "transformer_2"}, {"high_noise_model", "low_noise_model"}}) {
            if (isTransformerFolder(dir.resolve(pair[0]))) {
                List<Expert> ex = new ArrayList<>();
                ex.add(expert(pair[0], dir.resolve(pair[0])));
                if (isTransformerFolder(dir.resolve(pair[1]))) {
                    ex.add(expert(pair[1], dir.resolve(pair[1])));
                }
                return new WanModelDir(dir, ex);
            }
        }
        throw new WeightsException("Cannot find a Wan transformer in " + dir + ": expected config.json with Wan keys there,"
                + " or in transformer/ (diffusers) or high_noise_model/ (original A14B)");
    }

    /** The expert with this name. */
    public Expert expert(String name) {
        for (Expert e : experts) {
            if (e.name().equals(name)) {
                return e;
            }
        }
        List<String> names = new ArrayList<>();
        experts.forEach(e -> names.add(e.name()));
        throw new WeightsException("Cannot find expert '" + name + "' in " + root + ": it has " + names);
    }

    private static boolean isTransformerFolder(Path dir) {
        Path cfg = dir.resolve("config.json");
        if (!Files.isRegularFile(cfg)) {
            return false;
        }
        try {
            return WanConfig.looksLikeWan(JSON.readTree(Files.readAllBytes(cfg)));
        } catch (IOException e) {
            throw new WeightsException("Cannot read " + cfg + ": " + e.getMessage(), e);
        }
    }

    private static Expert expert(String name, Path folder) {
        return new Expert(name, folder, WanConfig.read(folder.resolve("config.json")), false);
    }

    static JsonNode readJson(Path p) throws IOException {
        return JSON.readTree(Files.readAllBytes(p));
    }
}
