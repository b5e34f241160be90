package io.sparserender.engine.model.wan;

import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.Checkpoint;
import io.sparserender.engine.weights.TensorInfo;
import io.sparserender.engine.weights.WeightsException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The tensors of one Wan transformer on a backend, loaded from a checkpoint in the diffusers or the
 * original Wan layout (names mapped by {@link WanKeys}), F32/F16/BF16 storage converted to float32.
 *
 * <p>Before anything is read, every stored name is mapped and checked against {@link WanKeys#expected}:
 * missing, unexpected, misshaped, duplicated and non-float tensors are collected and reported in one
 * {@link WeightsException} that lists them all.
 */
public final class WanWeights<T> {
    /** A linear layer: weight [out, in], bias [out]. */
    public record Linear<T>(T weight, T bias) {}

    /** Projections and q/k RMSNorm weights of one attention layer (self or cross). */
    public record Attention<T>(Linear<T> q, Linear<T> k, Linear<T> v, Linear<T> o, T normQ, T normK) {}

    /**
     * One block.
     *
     * @param modulation [6·dim]: shift1, scale1, gate1, shift2, scale2, gate2 (added to the time projection)
     * @param norm2Weight affine LayerNorm before cross-attention, [dim]; null when the config has none
     */
    public record Block<T>(T modulation, Attention<T> self, Attention<T> cross, T norm2Weight, T norm2Bias,
                           Linear<T> ffnIn, Linear<T> ffnOut) {}

    /** Which naming the stored tensors used. */
    public enum Layout { DIFFUSERS, ORIGINAL }

    private final WanConfig config;
    private final Layout layout;
    private final boolean prefixed;
    /** patch embedding as a linear map of the [c][pt][ph][pw] patch vector: [dim, C·pt·ph·pw] */
    final Linear<T> patchEmbedding;
    final Linear<T> text1;
    final Linear<T> text2;
    final Linear<T> time1;
    final Linear<T> time2;
    /** [6·dim, dim] */
    final Linear<T> timeProj;
    final List<Block<T>> blocks;
    /** [2·dim]: shift, scale of the head */
    final T headModulation;
    final Linear<T> projOut;

    private WanWeights(WanConfig config, Layout layout, boolean prefixed, Function<String, T> get) {
        this.config = config;
        this.layout = layout;
        this.prefixed = prefixed;
        this.patchEmbedding = linear(get, "patch_embedding");
        this.text1 = linear(get, "condition_embedder.text_embedder.linear_1");
        this.text2 = linear(get, "condition_embedder.text_embedder.linear_2");
        this.time1 = linear(get, "condition_embedder.time_embedder.linear_1");
        this.time2 = linear(get, "condition_embedder.time_embedder.linear_2");
        this.timeProj = linear(get, "condition_embedder.time_proj");
        List<Block<T>> bl = new ArrayList<>();
        for (int i = 0; i < config.numLayers(); i++) {
            String b = "blocks." + i + ".";
            bl.add(new Block<>(get.apply(b + "scale_shift_table"), attention(get, b + "attn1"), attention(get, b + "attn2"),
                    config.crossAttnNorm() ? get.apply(b + "norm2.weight") : null,
                    config.crossAttnNorm() ? get.apply(b + "norm2.bias") : null,
                    linear(get, b + "ffn.net.0.proj"), linear(get, b + "ffn.net.2")));
        }
        this.blocks = List.copyOf(bl);
        this.headModulation = get.apply("scale_shift_table");
        this.projOut = linear(get, "proj_out");
    }

    private static <T> Linear<T> linear(Function<String, T> get, String name) {
        return new Linear<>(get.apply(name + ".weight"), get.apply(name + ".bias"));
    }

    private static <T> Attention<T> attention(Function<String, T> get, String p) {
        return new Attention<>(linear(get, p + ".to_q"), linear(get, p + ".to_k"), linear(get, p + ".to_v"),
                linear(get, p + ".to_out.0"), get.apply(p + ".norm_q.weight"), get.apply(p + ".norm_k.weight"));
    }

    public WanConfig config() {
        return config;
    }

    public Layout layout() {
        return layout;
    }

    /** Whether the stored names carried the {@code model.diffusion_model.} prefix. */
    public boolean prefixed() {
        return prefixed;
    }

    public List<Block<T>> blocks() {
        return blocks;
    }

    /**
     * Checks the checkpoint against the config (all problems at once) and uploads every tensor to the
     * backend as float32; patch-embedding, modulation tables are flattened to the shapes the forward uses.
     */
    public static <T> WanWeights<T> load(Ops<T> ops, Checkpoint ckpt, WanConfig config) {
        Map<String, String> storedByCanonical = check(ckpt, config);
        Layout layout = storedByCanonical.keySet().stream().anyMatch(k -> !storedByCanonical.get(k).endsWith(k))
                ? Layout.ORIGINAL : Layout.DIFFUSERS;
        boolean prefixed = storedByCanonical.values().stream().anyMatch(s -> s.startsWith(WanKeys.SINGLE_FILE_PREFIX));
        return new WanWeights<>(config, layout, prefixed, name -> {
            Tensor t = ckpt.readTensor(storedByCanonical.get(name));
            return ops.transformerParameter(t.reshape(forwardShape(name, t.shape(), config)));
        });
    }

    /**
     * Weights made by {@code make} from each canonical name and the shape the forward uses (for benchmarks
     * with random weights made on the device, where no checkpoint is read).
     */
    public static <T> WanWeights<T> synthetic(WanConfig config, java.util.function.BiFunction<String, int[], T> make) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (WanKeys.Expected e : WanKeys.expected(config)) {
            shapes.put(e.name(), forwardShape(e.name(), e.shape(), config));
        }
        return new WanWeights<>(config, Layout.DIFFUSERS, false, name -> make.apply(name, shapes.get(name)));
    }

    /** The stored shape as the forward uses it: the patch embedding as a matrix, modulation tables flat. */
    static int[] forwardShape(String canonical, int[] stored, WanConfig config) {
        if (canonical.equals("patch_embedding.weight")) {
            return new int[] {config.dim(), config.inChannels() * config.patchVolume()};
        }
        if (canonical.endsWith("scale_shift_table")) {
            return new int[] {(int) Tensor.numel(stored)};
        }
        return stored;
    }

    /**
     * Maps stored names to canonical ones and checks names, shapes and dtypes against the config.
     *
     * @return canonical name to stored name, for every expected tensor
     * @throws WeightsException listing every problem found
     */
    static Map<String, String> check(Checkpoint ckpt, WanConfig config) {
        Map<String, int[]> expected = new LinkedHashMap<>();
        for (WanKeys.Expected e : WanKeys.expected(config)) {
            expected.put(e.name(), e.shape());
        }
        Map<String, String> storedByCanonical = new LinkedHashMap<>();
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> misshaped = new ArrayList<>();
        List<String> other = new ArrayList<>();
        for (Map.Entry<String, TensorInfo> e : ckpt.tensors().entrySet()) {
            String stored = e.getKey();
            String canonical = WanKeys.canonical(stored);
            int[] want = expected.get(canonical);
            if (want == null) {
                unexpected.add(describe(stored, canonical) + " " + Arrays.toString(e.getValue().shape()));
                continue;
            }
            String prev = storedByCanonical.putIfAbsent(canonical, stored);
            if (prev != null) {
                other.add("'" + canonical + "' is stored twice, as '" + prev + "' and '" + stored + "'");
                continue;
            }
            TensorInfo info = e.getValue();
            if (!Arrays.equals(info.shape(), want)) {
                misshaped.add(describe(stored, canonical) + " is " + Arrays.toString(info.shape())
                        + ", expected " + Arrays.toString(want));
            }
            DType dt = info.dtype();
            if (dt != DType.F32 && dt != DType.F16 && dt != DType.BF16 && dt != DType.F64) {
                other.add("'" + stored + "' has dtype " + dt + ", expected F32, F16 or BF16");
            }
        }
        for (String name : expected.keySet()) {
            if (!storedByCanonical.containsKey(name)) {
                missing.add("'" + name + "' " + Arrays.toString(expected.get(name))
                        + (name.equals(WanKeys.toOriginal(name)) ? "" : " (original name '" + WanKeys.toOriginal(name) + "')"));
            }
        }
        int problems = missing.size() + unexpected.size() + misshaped.size() + other.size();
        if (problems > 0) {
            StringBuilder sb = new StringBuilder("Invalid Wan checkpoint " + ckpt.source() + " for config dim "
                    + config.dim() + ", " + config.numLayers() + " layers: " + problems + " problem" + (problems == 1 ? "" : "s"));
            section(sb, "missing", missing);
            section(sb, "unexpected", unexpected);
            section(sb, "misshaped", misshaped);
            section(sb, "other", other);
            throw new WeightsException(sb.toString());
        }
        return storedByCanonical;
    }

    private static String describe(String stored, String canonical) {
        return stored.equals(canonical) ? "'" + stored + "'" : "'" + stored + "' (as '" + canonical + "')";
    }

    /** Appends "; missing N: a, b, c" with at most 20 entries shown, so the first line stays readable. */
    private static void section(StringBuilder sb, String what, List<String> items) {
        if (items.isEmpty()) {
            return;
        }
        sb.append("; ").append(what).append(' ').append(items.size()).append(": ");
        int shown = Math.min(items.size(), 20);
        sb.append(String.join(", ", items.subList(0, shown)));
        if (shown < items.size()) {
            sb.append(", and ").append(items.size() - shown).append(" more");
        }
    }
}
