package io.sparserender.engine.model.wan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.engine.weights.TensorInfo;
import io.sparserender.engine.weights.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shape of one Wan transformer (one expert), read from a diffusers {@code config.json}
 * ({@code WanTransformer3DModel}: {@code num_attention_heads}, {@code attention_head_dim}, ...) or from
 * an original Wan {@code config.json} ({@code WanModel}: {@code dim}, {@code num_heads}, ...).
 *
 * @param dim           model width, {@code numHeads × headDim}
 * @param numHeads      attention heads (self and cross)
 * @param headDim       width of one head (128 in every released model)
 * @param numLayers     transformer blocks
 * @param ffnDim        hidden width of the feed-forward network
 * @param inChannels    latent channels read (16 for Wan 2.1 VAE latents, 48 for Wan 2.2)
 * @param outChannels   latent channels written
 * @param textDim       width of the text encoder output (4096 for umT5-XXL)
 * @param textLen       prompt rows after zero padding (512)
 * @param freqDim       width of the sinusoidal timestep embedding
 * @param patchT        patch size along frames
 * @param patchH        patch size along rows
 * @param patchW        patch size along columns
 * @param eps           epsilon of every LayerNorm and RMSNorm
 * @param crossAttnNorm whether an affine LayerNorm precedes cross-attention
 * @param ropeMaxSeqLen positions covered by each RoPE axis table (1024)
 */
public record WanConfig(int dim, int numHeads, int headDim, int numLayers, int ffnDim, int inChannels,
                        int outChannels, int textDim, int textLen, int freqDim, int patchT, int patchH,
                        int patchW, float eps, boolean crossAttnNorm, int ropeMaxSeqLen) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public WanConfig {
        positive("num_heads", numHeads);
        positive("head_dim", headDim);
        positive("num_layers", numLayers);
        positive("ffn_dim", ffnDim);
        positive("in_channels", inChannels);
        positive("out_channels", outChannels);
        positive("text_dim", textDim);
        positive("text_len", textLen);
        positive("freq_dim", freqDim);
        positive("patch_t", patchT);
        positive("patch_h", patchH);
        positive("patch_w", patchW);
        positive("rope_max_seq_len", ropeMaxSeqLen);
        if (dim != numHeads * headDim) {
            throw new IllegalArgumentException("Invalid Wan config: dim " + dim + " is not num_heads " + numHeads
                    + " × head_dim " + headDim);
        }
        if (headDim % 2 != 0 || headDim < 6) {
            throw new IllegalArgumentException("Invalid Wan config: head_dim " + headDim
                    + " must be even and at least 6 (3D RoPE splits it into three rotary parts)");
        }
        if (freqDim % 2 != 0) {
            throw new IllegalArgumentException("Invalid Wan config: freq_dim " + freqDim + " must be even");
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("Invalid Wan config: eps " + eps + " must be positive");
        }
    }

    /** Values in one patch: {@code patchT × patchH × patchW}. */
    public int patchVolume() {
        return patchT * patchH * patchW;
    }

    /** Parameter count implied by the shapes (every tensor the loader expects). */
    public long parameterCount() {
        long n = 0;
        for (WanKeys.Expected e : WanKeys.expected(this)) {
            long p = 1;
            for (int d : e.shape()) {
                p *= d;
            }
            n += p;
        }
        return n;
    }

    /** Reads a transformer {@code config.json} in either layout. */
    public static WanConfig read(Path configJson) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(configJson));
        } catch (IOException e) {
            throw new WeightsException("Cannot read Wan config " + configJson + ": " + e.getMessage(), e);
        }
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new WeightsException("Invalid Wan config " + configJson + ": " + e.getMessage(), e);
        }
    }

    /** Parses a config object: diffusers keys when {@code num_attention_heads} is present, else the original's. */
    public static WanConfig fromJson(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("config is not a JSON object");
        }
        if (root.has("num_attention_heads")) {
            return fromDiffusers(root);
        }
        if (root.has("num_heads") && root.has("dim")) {
            return fromOriginal(root);
        }
        throw new IllegalArgumentException("neither a diffusers WanTransformer3DModel config (num_attention_heads)"
                + " nor an original Wan config (dim, num_heads)");
    }

    /** Whether a config object is a Wan transformer config in either layout (used to recognise folders). */
    public static boolean looksLikeWan(JsonNode root) {
        return root != null && root.isObject()
                && (root.has("num_attention_heads") && root.has("attention_head_dim")
                    || root.has("num_heads") && root.has("dim") && root.has("num_layers"));
    }

    private static WanConfig fromDiffusers(JsonNode c) {
        notSet(c, "image_dim", "image conditioning (Wan 2.1 I2V/FLF2V with CLIP) is not supported");
        notSet(c, "added_kv_proj_dim", "image conditioning (Wan 2.1 I2V/FLF2V with CLIP) is not supported");
        JsonNode qk = c.get("qk_norm");
        if (qk != null && !qk.isNull() && !"rms_norm_across_heads".equals(qk.asText())) {
            throw new IllegalArgumentException("qk_norm " + qk + " is not supported (only rms_norm_across_heads)");
        }
        int heads = required(c, "num_attention_heads");
        int headDim = required(c, "attention_head_dim");
        int in = required(c, "in_channels");
        int out = c.hasNonNull("out_channels") ? required(c, "out_channels") : in;
        int[] patch = patch(c);
        return new WanConfig(heads * headDim, heads, headDim, required(c, "num_layers"), required(c, "ffn_dim"),
                in, out, optional(c, "text_dim", 4096), optional(c, "text_len", 512), optional(c, "freq_dim", 256),
                patch[0], patch[1], patch[2], (float) optionalDouble(c, "eps", 1e-6),
                !c.has("cross_attn_norm") || c.get("cross_attn_norm").asBoolean(), optional(c, "rope_max_seq_len", 1024));
    }

    private static WanConfig fromOriginal(JsonNode c) {
        JsonNode qk = c.get("qk_norm");
        if (qk != null && !qk.isNull() && !qk.asBoolean(true)) {
            throw new IllegalArgumentException("qk_norm false is not supported");
        }
        JsonNode window = c.get("window_size");
        if (window != null && window.isArray() && (window.get(0).asInt() != -1 || window.get(1).asInt() != -1)) {
            throw new IllegalArgumentException("window_size " + window + " is not supported (only global attention, [-1, -1])");
        }
        int dim = required(c, "dim");
        int heads = required(c, "num_heads");
        if (heads <= 0 || dim % heads != 0) {
            throw new IllegalArgumentException("dim " + dim + " is not a multiple of num_heads " + heads);
        }
        int in = required(c, "in_dim");
        int out = c.hasNonNull("out_dim") ? required(c, "out_dim") : in;
        int[] patch = patch(c);
        return new WanConfig(dim, heads, dim / heads, required(c, "num_layers"), required(c, "ffn_dim"), in, out,
                optional(c, "text_dim", 4096), optional(c, "text_len", 512), optional(c, "freq_dim", 256),
                patch[0], patch[1], patch[2], (float) optionalDouble(c, "eps", 1e-6),
                !c.has("cross_attn_norm") || c.get("cross_attn_norm").asBoolean(), 1024);
    }

    /** Head width assumed when a config is inferred from tensor shapes (every released Wan model uses 128). */
    public static final int INFERRED_HEAD_DIM = 128;
    private static final Pattern BLOCK_INDEX = Pattern.compile("^blocks\\.(\\d+)\\.");

    /**
     * Infers the config of a checkpoint that came without {@code config.json} (single-file exports) from its
     * tensor shapes, in either layout. The head count is not visible in any shape: it is taken as
     * dim / {@value #INFERRED_HEAD_DIM}, true of every released Wan model.
     */
    public static WanConfig infer(Map<String, TensorInfo> tensors, Path source) {
        Map<String, int[]> s = new HashMap<>();
        int layers = 0;
        for (var e : tensors.entrySet()) {
            String n = WanKeys.canonical(e.getKey());
            s.put(n, e.getValue().shape());
            Matcher m = BLOCK_INDEX.matcher(n);
            if (m.find()) {
                layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
            }
        }
        int[] patch = shape(s, "patch_embedding.weight", 5, source);
        int dim = patch[0];
        if (dim % INFERRED_HEAD_DIM != 0) {
            throw new WeightsException("Cannot infer the Wan config of " + source + ": dim " + dim + " is not a multiple of "
                    + INFERRED_HEAD_DIM + " (give the folder a config.json)");
        }
        int pv = patch[2] * patch[3] * patch[4];
        int[] proj = shape(s, "proj_out.weight", 2, source);
        if (proj[0] % pv != 0) {
            throw new WeightsException("Cannot infer the Wan config of " + source + ": proj_out.weight " + Arrays.toString(proj)
                    + " is not a multiple of the patch volume " + pv);
        }
        try {
            return new WanConfig(dim, dim / INFERRED_HEAD_DIM, INFERRED_HEAD_DIM, layers,
                    shape(s, "blocks.0.ffn.net.0.proj.weight", 2, source)[0], patch[1], proj[0] / pv,
                    shape(s, "condition_embedder.text_embedder.linear_1.weight", 2, source)[1], 512,
                    shape(s, "condition_embedder.time_embedder.linear_1.weight", 2, source)[1], patch[2], patch[3], patch[4],
                    1e-6f, s.containsKey("blocks.0.norm2.weight"), 1024);
        } catch (IllegalArgumentException e) {
            throw new WeightsException("Cannot infer the Wan config of " + source + ": " + e.getMessage(), e);
        }
    }

    private static int[] shape(Map<String, int[]> s, String name, int rank, Path source) {
        int[] v = s.get(name);
        if (v == null || v.length != rank) {
            throw new WeightsException("Cannot infer the Wan config of " + source + ": tensor '" + name + "' (original name '"
                    + WanKeys.toOriginal(name) + "') is " + (v == null ? "missing" : Arrays.toString(v) + ", not rank " + rank));
        }
        return v;
    }

    /** This config as a diffusers {@code config.json} object. */
    public ObjectNode toDiffusersJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("_class_name", "WanTransformer3DModel");
        o.putNull("added_kv_proj_dim");
        o.put("attention_head_dim", headDim);
        o.put("cross_attn_norm", crossAttnNorm);
        o.put("eps", (double) eps);
        o.put("ffn_dim", ffnDim);
        o.put("freq_dim", freqDim);
        o.putNull("image_dim");
        o.put("in_channels", inChannels);
        o.put("num_attention_heads", numHeads);
        o.put("num_layers", numLayers);
        o.put("out_channels", outChannels);
        o.putArray("patch_size").add(patchT).add(patchH).add(patchW);
        o.put("qk_norm", "rms_norm_across_heads");
        o.put("rope_max_seq_len", ropeMaxSeqLen);
        o.put("text_dim", textDim);
        if (textLen != 512) {
            o.put("text_len", textLen); // not a diffusers key; kept so that a non-default length round-trips
        }
        return o;
    }

    /** This config as an original Wan {@code config.json} object. */
    public ObjectNode toOriginalJson(String modelType) {
        ObjectNode o = JSON.createObjectNode();
        o.put("_class_name", "WanModel");
        o.put("model_type", modelType);
        o.putArray("patch_size").add(patchT).add(patchH).add(patchW);
        o.put("text_len", textLen);
        o.put("in_dim", inChannels);
        o.put("dim", dim);
        o.put("ffn_dim", ffnDim);
        o.put("freq_dim", freqDim);
        o.put("text_dim", textDim);
        o.put("out_dim", outChannels);
        o.put("num_heads", numHeads);
        o.put("num_layers", numLayers);
        o.put("qk_norm", true);
        o.put("cross_attn_norm", crossAttnNorm);
        o.put("eps", (double) eps);
        return o;
    }

    private static int[] patch(JsonNode c) {
        JsonNode p = c.get("patch_size");
        if (p == null || p.isNull()) {
            return new int[] {1, 2, 2};
        }
        if (!p.isArray() || p.size() != 3) {
            throw new IllegalArgumentException("patch_size " + p + " is not three integers");
        }
        return new int[] {p.get(0).asInt(), p.get(1).asInt(), p.get(2).asInt()};
    }

    private static int required(JsonNode c, String key) {
        JsonNode v = c.get(key);
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber()) {
            throw new IllegalArgumentException("key '" + key + "' is " + (v == null ? "missing" : v + ", not an integer"));
        }
        return v.asInt();
    }

    private static int optional(JsonNode c, String key, int fallback) {
        return c.hasNonNull(key) ? required(c, key) : fallback;
    }

    private static double optionalDouble(JsonNode c, String key, double fallback) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw new IllegalArgumentException("key '" + key + "' is " + v + ", not a number");
        }
        return v.asDouble();
    }

    private static void notSet(JsonNode c, String key, String why) {
        if (c.hasNonNull(key)) {
            throw new IllegalArgumentException("key '" + key + "' is " + c.get(key) + ": " + why);
        }
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException("Invalid Wan config: " + name + " " + v + " must be positive");
        }
    }
}
