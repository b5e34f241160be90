package io.sparserender.engine.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.engine.weights.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The shape of a umT5 encoder, read from the {@code config.json} that transformers writes for
 * {@code UMT5EncoderModel} (key names of its {@code UMT5Config}). umT5-XXL: vocab 256,384, d_model 4096,
 * 64 heads × 64, d_ff 10240, 24 layers, 32 buckets, max distance 128, eps 1e-6, gated-gelu.
 *
 * @param vocabSize rows of the token embedding ({@code vocab_size})
 * @param dModel hidden width ({@code d_model})
 * @param dKv width of one attention head ({@code d_kv})
 * @param dFf hidden width of the gated FFN ({@code d_ff})
 * @param numLayers encoder blocks ({@code num_layers})
 * @param numHeads attention heads ({@code num_heads})
 * @param numBuckets relative-position buckets ({@code relative_attention_num_buckets})
 * @param maxDistance distance from which buckets are shared ({@code relative_attention_max_distance})
 * @param eps RMS-norm epsilon ({@code layer_norm_epsilon})
 * @param padTokenId padding id ({@code pad_token_id}, 0)
 * @param eosTokenId end-of-sequence id ({@code eos_token_id}, 1)
 */
public record UmT5Config(int vocabSize, int dModel, int dKv, int dFf, int numLayers, int numHeads, int numBuckets,
        int maxDistance, float eps, int padTokenId, int eosTokenId) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public UmT5Config {
        positive("vocab_size", vocabSize);
        positive("d_model", dModel);
        positive("d_kv", dKv);
        positive("d_ff", dFf);
        positive("num_layers", numLayers);
        positive("num_heads", numHeads);
        positive("relative_attention_num_buckets", numBuckets);
        positive("relative_attention_max_distance", maxDistance);
        if (numBuckets % 2 != 0 || numBuckets < 4) {
            throw new IllegalArgumentException("Invalid umT5 config: relative_attention_num_buckets must be even "
                    + "and at least 4 for bidirectional buckets, got " + numBuckets);
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("Invalid umT5 config: layer_norm_epsilon must be positive, got " + eps);
        }
    }

    /** Width of all heads together (q, k, v outputs). */
    public int innerDim() {
        return numHeads * dKv;
    }

    /** umT5-XXL as in Wan's {@code text_encoder/}. */
    public static UmT5Config xxl() {
        return new UmT5Config(256384, 4096, 64, 10240, 24, 64, 32, 128, 1e-6f, 0, 1);
    }

    /** Reads {@code config.json} (a file, or a folder holding one). */
    public static UmT5Config read(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("config.json") : path;
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new WeightsException("Cannot read umT5 config " + file + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new WeightsException("Invalid umT5 config " + file + ": not a JSON object");
        }
        String ff = text(root, file, "feed_forward_proj", "gated-gelu");
        if (!ff.toLowerCase(Locale.ROOT).equals("gated-gelu")) {
            throw new WeightsException("Invalid umT5 config " + file + ": feed_forward_proj is '" + ff
                    + "', only 'gated-gelu' (umT5's GELU-tanh gated FFN) is supported");
        }
        String act = text(root, file, "dense_act_fn", "gelu_new");
        if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh")) {
            throw new WeightsException("Invalid umT5 config " + file + ": dense_act_fn is '" + act
                    + "', only the tanh GELU ('gelu_new', 'gelu_pytorch_tanh') is supported");
        }
        try {
            return new UmT5Config(integer(root, file, "vocab_size"), integer(root, file, "d_model"),
                    integer(root, file, "d_kv"), integer(root, file, "d_ff"), integer(root, file, "num_layers"),
                    integer(root, file, "num_heads"), integer(root, file, "relative_attention_num_buckets"),
                    integer(root, file, "relative_attention_max_distance"),
                    (float) number(root, file, "layer_norm_epsilon"),
                    root.has("pad_token_id") ? integer(root, file, "pad_token_id") : 0,
                    root.has("eos_token_id") ? integer(root, file, "eos_token_id") : 1);
        } catch (IllegalArgumentException e) {
            throw new WeightsException(e.getMessage() + " (in " + file + ")", e);
        }
    }

    private static int integer(JsonNode root, Path file, String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.canConvertToInt() || !n.isIntegralNumber()) {
            throw new WeightsException("Invalid umT5 config " + file + ": key '" + key + "' must be an integer, got "
                    + (n == null ? "nothing" : n.toString()));
        }
        return n.intValue();
    }

    private static double number(JsonNode root, Path file, String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.isNumber()) {
            throw new WeightsException("Invalid umT5 config " + file + ": key '" + key + "' must be a number, got "
                    + (n == null ? "nothing" : n.toString()));
        }
        return n.doubleValue();
    }

    private static String text(JsonNode root, Path file, String key, String fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isTextual()) {
            throw new WeightsException("Invalid umT5 config " + file + ": key '" + key + "' must be a string, got " + n);
        }
        return n.asText();
    }

    private static void positive(String key, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException("Invalid umT5 config: " + key + " must be positive, got " + v);
        }
    }
}
