package io.sparserender.driver.prompts;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.engine.pipeline.ClipSpec;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Objects;
import java.util.Set;

/**
 * Checks one prompt row (a JSON object of its fields, from JSONL, CSV or Parquet) and fills the
 * fields it leaves out from the job's {@link ClipDefaults}. Every rejection names the field and the
 * value. Fields: {@code prompt} (required) and optional {@code id}, {@code negative_prompt},
 * {@code seed}, {@code width}, {@code height}, {@code frames}, {@code steps}, {@code guidance},
 * {@code guidance_low}, {@code shift}, {@code policy}; any other field is rejected, so a typo never
 * silently falls back to a default.
 */
public final class RowValidator implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Longest accepted prompt in UTF-8 bytes: umT5 reads 512 tokens, so anything longer is a mistake. */
    public static final int MAX_PROMPT_BYTES = 16 * 1024;
    public static final int MAX_ID_CHARS = 256;
    public static final int MAX_SIDE = 4096;
    public static final int MAX_FRAMES = 1001;
    public static final int MAX_STEPS = 1000;
    public static final double MAX_GUIDANCE = 50;
    public static final double MAX_SHIFT = 100;

    static final Set<String> FIELDS = Set.of("id", "prompt", "negative_prompt", "seed", "width", "height",
            "frames", "steps", "guidance", "guidance_low", "shift", "policy");

    private final ClipDefaults defaults;
    private final PolicyCanonicalizer policies;

    public RowValidator(ClipDefaults defaults, PolicyCanonicalizer policies) {
        this.defaults = Objects.requireNonNull(defaults, "defaults is null");
        this.policies = Objects.requireNonNull(policies, "policies is null");
    }

    /**
     * @param textValues true when every value arrives as text (CSV): numbers are then parsed from
     *                   strings; in JSON and Parquet a number must be a number
     */
    public Validation validate(String source, long row, ObjectNode fields, boolean textValues) {
        try {
            return new Validation.Accepted(source, row, userId(fields), spec(fields, textValues));
        } catch (RowException e) {
            return new Validation.Rejected(source, row, e.getMessage());
        }
    }

    private ClipSpec spec(ObjectNode f, boolean text) {
        for (Iterator<String> it = f.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!FIELDS.contains(name)) {
                throw new RowException("unknown field '" + name + "' (known: id, prompt, negative_prompt, seed, width, "
                        + "height, frames, steps, guidance, guidance_low, shift, policy)");
            }
        }
        String prompt = text(f, "prompt", null);
        if (prompt == null || prompt.isBlank()) {
            throw new RowException("prompt is missing or empty");
        }
        checkText("prompt", prompt);
        String negative = text(f, "negative_prompt", defaults.negativePrompt());
        checkText("negative_prompt", negative);
        long seed = integer(f, "seed", defaults.seed(), 0, Long.MAX_VALUE, text);
        int width = (int) integer(f, "width", defaults.width(), defaults.spatialStride(), MAX_SIDE, text);
        int height = (int) integer(f, "height", defaults.height(), defaults.spatialStride(), MAX_SIDE, text);
        checkStride("width", width);
        checkStride("height", height);
        int frames = (int) integer(f, "frames", defaults.frames(), 1, MAX_FRAMES, text);
        if ((frames - 1) % 4 != 0) {
            throw new RowException("frames must be 4k+1 (1, 5, 9, ..., 81, 121), got " + frames);
        }
        int steps = (int) integer(f, "steps", defaults.steps(), 1, MAX_STEPS, text);
        double guidance = number(f, "guidance", defaults.guidance(), 0, MAX_GUIDANCE, text);
        double guidanceLow = Double.isNaN(defaults.guidanceLow()) && !present(f, "guidance_low")
                ? Double.NaN : number(f, "guidance_low", defaults.guidanceLow(), 0, MAX_GUIDANCE, text);
        if (!Double.isNaN(guidanceLow) && Double.isNaN(defaults.guidanceLow())) {
            throw new RowException("guidance_low applies only to two-expert models; " + defaults.model() + " has one");
        }
        double shift = number(f, "shift", defaults.shift(), Double.MIN_VALUE, MAX_SHIFT, text);
        String policySpec = text(f, "policy", defaults.policy());
        String policy;
        try {
            policy = policies.canonical(policySpec);
        } catch (IllegalArgumentException e) {
            throw new RowException("policy '" + policySpec + "' is invalid: " + e.getMessage());
        }
        return new ClipSpec(prompt, negative, seed, width, height, frames, steps, guidance, guidanceLow, shift,
                policy, defaults.model(), defaults.modelRevision());
    }

    private String userId(ObjectNode f) {
        JsonNode n = f.get("id");
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isTextual() && !n.isIntegralNumber()) {
            throw new RowException("id must be a string or an integer, got " + n.getNodeType().name().toLowerCase());
        }
        String id = n.asText();
        if (id.isEmpty() || id.length() > MAX_ID_CHARS) {
            throw new RowException("id must have 1 to " + MAX_ID_CHARS + " characters, got " + id.length());
        }
        checkText("id", id);
        return id;
    }

    private void checkStride(String name, int v) {
        if (v % defaults.spatialStride() != 0) {
            throw new RowException(name + " must be a multiple of " + defaults.spatialStride() + " for "
                    + defaults.model() + ", got " + v);
        }
    }

    private static void checkText(String name, String s) {
        if (s.indexOf('\uFFFD') >= 0) {
            throw new RowException(name + " is not valid UTF-8 (holds U+FFFD replacement characters)");
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
                throw new RowException(name + " holds control character U+" + String.format("%04X", (int) c)
                        + " at index " + i);
            }
            if (Character.isSurrogate(c)) {
                if (!(Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1)))) {
                    throw new RowException(name + " holds an unpaired surrogate at index " + i);
                }
                i++; // the low half of the pair
            }
        }
        int bytes = s.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_PROMPT_BYTES) {
            throw new RowException(name + " is " + bytes + " bytes, over the " + MAX_PROMPT_BYTES + "-byte limit");
        }
    }

    private static boolean present(ObjectNode f, String name) {
        JsonNode n = f.get(name);
        return n != null && !n.isNull() && !(n.isTextual() && n.asText().isEmpty());
    }

    private static String text(ObjectNode f, String name, String fallback) {
        JsonNode n = f.get(name);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isTextual()) {
            throw new RowException(name + " must be a string, got " + n.getNodeType().name().toLowerCase() + " " + n);
        }
        return n.asText();
    }

    private static long integer(ObjectNode f, String name, long fallback, long min, long max, boolean text) {
        if (!present(f, name)) {
            return fallback;
        }
        JsonNode n = f.get(name);
        long v;
        if (n.isIntegralNumber() && n.canConvertToLong()) {
            v = n.asLong();
        } else if (text && n.isTextual()) {
            try {
                v = Long.parseLong(n.asText().trim());
            } catch (NumberFormatException e) {
                throw new RowException(name + " must be an integer, got '" + clip(n.asText()) + "'");
            }
        } else {
            throw new RowException(name + " must be an integer, got " + clip(n.toString()));
        }
        if (v < min || v > max) {
            throw new RowException(name + " must be in [" + min + ", " + max + "], got " + v);
        }
        return v;
    }

    private static double number(ObjectNode f, String name, double fallback, double min, double max, boolean text) {
        if (!present(f, name)) {
            return fallback;
        }
        JsonNode n = f.get(name);
        double v;
        if (n.isNumber()) {
            v = n.asDouble();
        } else if (text && n.isTextual()) {
            try {
                v = Double.parseDouble(n.asText().trim());
            } catch (NumberFormatException e) {
                throw new RowException(name + " must be a number, got '" + clip(n.asText()) + "'");
            }
        } else {
            throw new RowException(name + " must be a number, got " + clip(n.toString()));
        }
        if (!(v >= min && v <= max)) {
            throw new RowException(name + " must be in [" + (min == Double.MIN_VALUE ? "0 (exclusive)" : min) + ", "
                    + max + "], got " + v);
        }
        return v;
    }

    private static String clip(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    /** A row-level problem; the message becomes the rejection reason. */
    private static final class RowException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        RowException(String message) {
            super(message, null, false, false);
        }
    }
}
