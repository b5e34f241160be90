package io.sparserender.engine.model.wan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.weights.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A model preset from {@code conf/models/<name>.json}: the transformer config (diffusers keys), its
 * experts, the expert switch, the VAE it pairs with, sampling defaults, and for {@code wan-tiny} the
 * seed its random weights are generated from.
 *
 * @param experts       sub-folders of a diffusers repo, high-noise expert first
 * @param boundaryRatio the high-noise expert runs while timestep ≥ boundaryRatio·1000; null with one expert
 * @param parameters    the published parameter count per expert, null when none is published
 * @param generator     seed and storage dtype of generated weights; null for released models
 */
public record WanPreset(String name, String description, WanConfig transformer, List<String> experts,
                        Double boundaryRatio, String vae, Double parameters, Defaults defaults, Generator generator) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Sampling defaults of the official pipelines; one guidance per expert. */
    public record Defaults(int steps, double shift, List<Double> guidance, int width, int height, int frames, int fps) {
        public Defaults {
            guidance = List.copyOf(guidance);
        }
    }

    /** How wan-tiny's weights are made. */
    public record Generator(long seed, DType dtype) {}

    public WanPreset {
        Objects.requireNonNull(name, "name is null");
        Objects.requireNonNull(transformer, "transformer is null");
        experts = List.copyOf(experts);
        if (experts.isEmpty() || experts.size() > 1 != (boundaryRatio != null)) {
            throw new IllegalArgumentException("Invalid preset " + name + ": " + experts.size()
                    + " experts with boundary_ratio " + boundaryRatio + " (a boundary is needed exactly when there are two)");
        }
    }

    /**
     * The expert that handles an integer timestep: the first (high-noise) one while
     * {@code timestep ≥ boundaryRatio × 1000}, the second after; always 0 with one expert.
     */
    public int expertFor(int timestep) {
        if (boundaryRatio == null) {
            return 0;
        }
        return timestep >= boundaryRatio * 1000 ? 0 : 1;
    }

    /** Reads {@code dir/<name>.json}. */
    public static WanPreset load(Path dir, String name) {
        Path file = dir.resolve(name + ".json");
        if (!Files.isRegularFile(file)) {
            throw new WeightsException("Cannot find model preset '" + name + "': no " + file);
        }
        return read(file);
    }

    /** The presets packed in the jar (from {@code conf/models/}): wan-tiny and the released models. */
    public static final List<String> BUILT_IN = List.of("wan-tiny", "wan2.2-ti2v-5b", "wan2.2-t2v-a14b", "wan2.1-t2v-1.3b");

    /** A preset packed in the jar, found by name on every executor without a conf/ folder. */
    public static WanPreset builtIn(String name) {
        try (var in = WanPreset.class.getResourceAsStream("/io/sparserender/models/" + name + ".json")) {
            if (in == null || !BUILT_IN.contains(name)) {
                throw new WeightsException("Cannot find model preset '" + name + "': known presets are " + BUILT_IN);
            }
            return parse(in.readAllBytes(), "preset " + name);
        } catch (IOException e) {
            throw new WeightsException("Cannot read model preset '" + name + "': " + e.getMessage(), e);
        }
    }

    public static WanPreset read(Path file) {
        try {
            return parse(Files.readAllBytes(file), file.toString());
        } catch (IOException e) {
            throw new WeightsException("Cannot read model preset " + file + ": " + e.getMessage(), e);
        }
    }

    private static WanPreset parse(byte[] json, String source) {
        try {
            JsonNode r = JSON.readTree(json);
            List<String> experts = new ArrayList<>();
            r.path("experts").forEach(e -> experts.add(e.asText()));
            JsonNode d = r.path("defaults");
            List<Double> guidance = new ArrayList<>();
            d.path("guidance").forEach(g -> guidance.add(g.asDouble()));
            JsonNode g = r.get("generator");
            Generator gen = g == null || g.isNull() ? null : new Generator(g.path("seed").asLong(),
                    DType.fromName(g.path("dtype").asText("F32")).orElseThrow(
                            () -> new IllegalArgumentException("generator dtype " + g.get("dtype") + " is unknown")));
            WanConfig cfg = WanConfig.fromJson(r.get("transformer"));
            return new WanPreset(r.path("name").asText(), r.path("description").asText(), cfg, experts,
                    r.hasNonNull("boundary_ratio") ? r.get("boundary_ratio").asDouble() : null, r.path("vae").asText(),
                    r.hasNonNull("parameters") ? r.get("parameters").asDouble() : null,
                    new Defaults(d.path("steps").asInt(), d.path("shift").asDouble(), guidance, d.path("width").asInt(),
                            d.path("height").asInt(), d.path("frames").asInt(), d.path("fps").asInt()), gen);
        } catch (IOException | RuntimeException e) {
            throw new WeightsException("Invalid model preset " + source + ": " + e.getMessage(), e);
        }
    }
}
