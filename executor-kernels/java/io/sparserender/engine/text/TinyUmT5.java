package io.sparserender.engine.text;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.engine.sampler.NoiseGenerator;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.engine.weights.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A tiny umT5 for tests and the quickstart, generated from a seed into the diffusers layout a real
 * repo has: {@code text_encoder/config.json} (transformers' UMT5Config keys) and
 * {@code text_encoder/model.safetensors} (HF key names, F32), and {@code tokenizer/tokenizer.json} with a
 * generated English vocabulary ({@link UnigramTokenizerJson}).
 *
 * <p>Weights: tensor number i (in {@link UmT5Weights#expectedShapes} order) is stream i of
 * {@link NoiseGenerator} for the seed, times the standard deviation Wan's T5 initialiser uses
 * (embedding 1, q (d·d_kv)^−½, k and v d^−½, o (H·d_kv)^−½, relative bias (2·buckets·H)^−½, wi d^−½,
 * wo d_ff^−½); norm weights are 1 + 0.1·noise. The same spec gives the same bytes on every machine.
 *
 * @param vocabSize embedding rows (at least the generated vocabulary's size, {@link #vocabulary()} + 3)
 */
public record TinyUmT5(int vocabSize, int dModel, int dKv, int numHeads, int dFf, int numLayers, long seed) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] WORDS = {"the", "a", "an", "of", "and", "in", "on", "with", "at", "to", "is",
        "cat", "dog", "bird", "fish", "horse", "car", "boat", "tree", "flower", "city", "street", "river", "sea",
        "sky", "sun", "moon", "night", "day", "rain", "snow", "forest", "mountain", "beach", "house", "room",
        "man", "woman", "child", "people", "walking", "running", "flying", "swimming", "dancing", "playing",
        "red", "blue", "green", "white", "black", "golden", "small", "big", "old", "young", "slow", "fast",
        "camera", "shot", "close", "up", "view", "light", "dark", "bright", "motion", "scene", "video", "style",
        "cinematic", "realistic", "anime", "painting", "photo", "detailed", "quality", "blurry", "low", "worst"};

    public TinyUmT5 {
        if (vocabSize < vocabulary().size() + 3 || dModel <= 0 || dKv <= 0 || numHeads <= 0 || dFf <= 0
                || numLayers <= 0) {
            throw new IllegalArgumentException("Invalid tiny umT5: vocab " + vocabSize + " (at least "
                    + (vocabulary().size() + 3) + "), d_model " + dModel + ", d_kv " + dKv + ", heads " + numHeads
                    + ", d_ff " + dFf + ", layers " + numLayers);
        }
    }

    /** 256 tokens, d_model 32 (the tiny DiT's text_dim), 2 heads × 16, d_ff 64, 2 layers. */
    public static TinyUmT5 defaults(long seed) {
        return new TinyUmT5(256, 32, 16, 2, 64, 2, seed);
    }

    public UmT5Config config() {
        return new UmT5Config(vocabSize, dModel, dKv, dFf, numLayers, numHeads, 32, 128, 1e-6f, 0, 1);
    }

    /** Writes {@code root/text_encoder/} and {@code root/tokenizer/}. */
    public void write(Path root) {
        write(root, DType.F32);
    }

    /** As {@link #write(Path)}, storing the weights in {@code dtype} (BF16 halves a full-size encoder). */
    public void write(Path root, DType dtype) {
        writeTextEncoder(root.resolve("text_encoder"), dtype);
        UnigramTokenizerJson.write(root.resolve("tokenizer").resolve("tokenizer.json"), vocabulary());
    }

    void writeTextEncoder(Path dir) {
        writeTextEncoder(dir, DType.F32);
    }

    void writeTextEncoder(Path dir, DType dtype) {
        UmT5Config c = config();
        try {
            Files.createDirectories(dir);
            ObjectNode cfg = JSON.createObjectNode();
            cfg.putArray("architectures").add("UMT5EncoderModel");
            cfg.put("model_type", "umt5");
            cfg.put("vocab_size", c.vocabSize());
            cfg.put("d_model", c.dModel());
            cfg.put("d_kv", c.dKv());
            cfg.put("d_ff", c.dFf());
            cfg.put("num_layers", c.numLayers());
            cfg.put("num_heads", c.numHeads());
            cfg.put("relative_attention_num_buckets", c.numBuckets());
            cfg.put("relative_attention_max_distance", c.maxDistance());
            cfg.put("layer_norm_epsilon", 1e-6);
            cfg.put("feed_forward_proj", "gated-gelu");
            cfg.put("dense_act_fn", "gelu_new");
            cfg.put("is_gated_act", true);
            cfg.put("pad_token_id", 0);
            cfg.put("eos_token_id", 1);
            cfg.put("dtype", "float32");
            JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), cfg);
        } catch (IOException e) {
            throw new WeightsException("Cannot write tiny umT5 config in " + dir + ": " + e.getMessage(), e);
        }
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        List<io.sparserender.engine.weights.GeneratedTensors.Spec> specs = new java.util.ArrayList<>();
        int stream = 0;
        for (Map.Entry<String, int[]> e : UmT5Weights.expectedShapes(c).entrySet()) {
            int[] shape = e.getValue();
            int n = Math.toIntExact(io.sparserender.engine.tensor.Tensor.numel(shape));
            int s = stream++;
            String name = e.getKey();
            boolean norm = name.endsWith("layer_norm.weight");
            double std = std(name, c);
            specs.add(new io.sparserender.engine.weights.GeneratedTensors.Spec(name, shape, () -> {
                double[] z = NoiseGenerator.normals(seed, s, 0, n);
                float[] v = new float[n];
                for (int i = 0; i < n; i++) {
                    v[i] = (float) (norm ? 1 + 0.1 * z[i] : std * z[i]);
                }
                return v;
            }));
        }
        io.sparserender.engine.weights.GeneratedTensors.addAll(w, dtype, specs);
        w.write(dir.resolve("model.safetensors"));
    }

    private static double std(String name, UmT5Config c) {
        if (name.equals(UmT5Weights.EMBEDDING)) {
            return 1.0;
        }
        if (name.endsWith("SelfAttention.q.weight")) {
            return Math.pow((double) c.dModel() * c.dKv(), -0.5);
        }
        if (name.endsWith("SelfAttention.o.weight")) {
            return Math.pow(c.innerDim(), -0.5);
        }
        if (name.endsWith("relative_attention_bias.weight")) {
            return Math.pow(2.0 * c.numBuckets() * c.numHeads(), -0.5);
        }
        if (name.endsWith("DenseReluDense.wo.weight")) {
            return Math.pow(c.dFf(), -0.5);
        }
        return Math.pow(c.dModel(), -0.5); // k, v, wi_0, wi_1
    }

    /**
     * The generated vocabulary after the three specials: "▁", the printable ASCII characters, "▁" + each
     * lowercase letter and digit, and "▁" + each word of a small English list; scores favour whole words
     * (−6 − i/100), then "▁x" (−10), "▁" (−11), single characters (−12).
     */
    public static List<UnigramTokenizerJson.Piece> vocabulary() {
        List<UnigramTokenizerJson.Piece> p = new ArrayList<>();
        p.add(new UnigramTokenizerJson.Piece(UnigramTokenizerJson.SPACE, -11.0));
        for (char ch = '!'; ch <= '~'; ch++) {
            p.add(new UnigramTokenizerJson.Piece(String.valueOf(ch), -12.0));
        }
        for (char ch = 'a'; ch <= 'z'; ch++) {
            p.add(new UnigramTokenizerJson.Piece(UnigramTokenizerJson.SPACE + ch, -10.0));
        }
        for (char ch = '0'; ch <= '9'; ch++) {
            p.add(new UnigramTokenizerJson.Piece(UnigramTokenizerJson.SPACE + ch, -10.0));
        }
        for (int i = 0; i < WORDS.length; i++) {
            if (WORDS[i].length() > 1) {
                p.add(new UnigramTokenizerJson.Piece(UnigramTokenizerJson.SPACE + WORDS[i], -6.0 - i / 100.0));
            }
        }
        return p;
    }
}
