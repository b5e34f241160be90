package io.sparserender.engine.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * Everything a clip's pixels depend on (DESIGN §3 Determinism): a clip is a pure function of this
 * spec, so its id is a hash of the spec's canonical form and output paths derive from the id, never
 * from prompt text.
 *
 * @param model          model preset or checkpoint name
 * @param modelRevision  content revision of the weights (e.g. a checksum; "random" for generated ones)
 * @param guidance       guidance scale of the only (or high-noise) expert
 * @param guidanceLow    guidance scale of the low-noise expert, or NaN for single-expert models
 * @param policy         canonical attention policy spec, e.g. {@code dynsparse:lambda=-9,bc=32}
 */
public record ClipSpec(
        String prompt,
        String negativePrompt,
        long seed,
        int width,
        int height,
        int frames,
        int steps,
        double guidance,
        double guidanceLow,
        double shift,
        String policy,
        String model,
        String modelRevision) {

    private static final ObjectMapper CANONICAL = new ObjectMapper()
            .configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

    public ClipSpec {
        Objects.requireNonNull(prompt, "prompt is null");
        Objects.requireNonNull(negativePrompt, "negativePrompt is null");
        Objects.requireNonNull(policy, "policy is null");
        Objects.requireNonNull(model, "model is null");
        Objects.requireNonNull(modelRevision, "modelRevision is null");
    }

    /**
     * The canonical JSON form: fixed key order (alphabetical), numbers written without trailing
     * zeros, strings as given. Two specs are the same clip exactly when these bytes are equal.
     */
    public String canonicalJson() {
        ObjectNode n = CANONICAL.createObjectNode();
        n.put("frames", frames);
        n.put("guidance", canonical(guidance));
        n.put("guidance_low", Double.isNaN(guidanceLow) ? "none" : canonical(guidanceLow));
        n.put("height", height);
        n.put("model", model);
        n.put("model_revision", modelRevision);
        n.put("negative_prompt", negativePrompt);
        n.put("policy", policy);
        n.put("prompt", prompt);
        n.put("seed", seed);
        n.put("shift", canonical(shift));
        n.put("steps", steps);
        n.put("width", width);
        try {
            return CANONICAL.writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Cannot serialise clip spec", e);
        }
    }

    /** 32 hex characters: the first 128 bits of SHA-256 over the canonical JSON (UTF-8). */
    public String clipId() {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(canonicalJson().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(h, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }

    /** The same clip under another attention policy (a canonical spec). */
    public ClipSpec withPolicy(String otherPolicy) {
        return new ClipSpec(prompt, negativePrompt, seed, width, height, frames, steps, guidance, guidanceLow, shift,
                otherPolicy, model, modelRevision);
    }

    /** Reads back {@link #canonicalJson()}. */
    public static ClipSpec fromCanonicalJson(String json) {
        try {
            var n = CANONICAL.readTree(json);
            String low = n.get("guidance_low").asText();
            return new ClipSpec(n.get("prompt").asText(), n.get("negative_prompt").asText(), n.get("seed").asLong(),
                    n.get("width").asInt(), n.get("height").asInt(), n.get("frames").asInt(), n.get("steps").asInt(),
                    Double.parseDouble(n.get("guidance").asText()),
                    low.equals("none") ? Double.NaN : Double.parseDouble(low),
                    Double.parseDouble(n.get("shift").asText()), n.get("policy").asText(), n.get("model").asText(),
                    n.get("model_revision").asText());
        } catch (JsonProcessingException | RuntimeException e) {
            throw new IllegalArgumentException("Invalid clip spec JSON: " + e.getMessage(), e);
        }
    }

    private static String canonical(double v) {
        if (!Double.isFinite(v)) {
            throw new IllegalArgumentException("Invalid clip spec: non-finite number " + v);
        }
        BigDecimal d = new BigDecimal(Double.toString(v)).stripTrailingZeros();
        return d.signum() == 0 ? "0" : d.toPlainString();
    }
}
