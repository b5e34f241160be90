package io.sparserender.engine.model.wan;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Tensor names of a Wan transformer. The canonical names are diffusers' ({@code WanTransformer3DModel});
 * the original Wan names ({@code WanModel}) map onto them one to one, and single-file exports may prefix
 * either with {@code model.diffusion_model.}.
 *
 * <p>The one mapping that is easy to get wrong: the affine LayerNorm before cross-attention is
 * {@code blocks.N.norm2} in diffusers and {@code blocks.N.norm3} in the original code.
 */
public final class WanKeys {
    /** The prefix of single-file exports (ComfyUI and friends). */
    public static final String SINGLE_FILE_PREFIX = "model.diffusion_model.";

    /** One tensor the model needs: canonical (diffusers) name and shape. */
    public record Expected(String name, int[] shape) {
        public Expected {
            shape = shape.clone();
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }
    }

    // original prefix -> diffusers prefix, outside the blocks
    private static final String[][] GLOBAL = {
        {"text_embedding.0.", "condition_embedder.text_embedder.linear_1."},
        {"text_embedding.2.", "condition_embedder.text_embedder.linear_2."},
        {"time_embedding.0.", "condition_embedder.time_embedder.linear_1."},
        {"time_embedding.2.", "condition_embedder.time_embedder.linear_2."},
        {"time_projection.1.", "condition_embedder.time_proj."},
        {"head.head.", "proj_out."},
    };
    // original suffix -> diffusers suffix, inside "blocks.N."
    private static final String[][] BLOCK = {
        {"self_attn.q.", "attn1.to_q."},
        {"self_attn.k.", "attn1.to_k."},
        {"self_attn.v.", "attn1.to_v."},
        {"self_attn.o.", "attn1.to_out.0."},
        {"self_attn.norm_q.", "attn1.norm_q."},
        {"self_attn.norm_k.", "attn1.norm_k."},
        {"cross_attn.q.", "attn2.to_q."},
        {"cross_attn.k.", "attn2.to_k."},
        {"cross_attn.v.", "attn2.to_v."},
        {"cross_attn.o.", "attn2.to_out.0."},
        {"cross_attn.norm_q.", "attn2.norm_q."},
        {"cross_attn.norm_k.", "attn2.norm_k."},
        {"norm3.", "norm2."},
        {"ffn.0.", "ffn.net.0.proj."},
        {"ffn.2.", "ffn.net.2."},
    };
    private static final Pattern BLOCK_KEY = Pattern.compile("^blocks\\.(\\d+)\\.(.+)$");

    private WanKeys() {}

    /** Every tensor a model of this config needs, in a stable order, with diffusers names. */
    public static List<Expected> expected(WanConfig c) {
        int d = c.dim();
        List<Expected> out = new ArrayList<>();
        out.add(new Expected("patch_embedding.weight", new int[] {d, c.inChannels(), c.patchT(), c.patchH(), c.patchW()}));
        out.add(new Expected("patch_embedding.bias", new int[] {d}));
        linear(out, "condition_embedder.text_embedder.linear_1", d, c.textDim());
        linear(out, "condition_embedder.text_embedder.linear_2", d, d);
        linear(out, "condition_embedder.time_embedder.linear_1", d, c.freqDim());
        linear(out, "condition_embedder.time_embedder.linear_2", d, d);
        linear(out, "condition_embedder.time_proj", 6 * d, d);
        for (int i = 0; i < c.numLayers(); i++) {
            String b = "blocks." + i + ".";
            out.add(new Expected(b + "scale_shift_table", new int[] {1, 6, d}));
            for (String attn : new String[] {"attn1", "attn2"}) {
                linear(out, b + attn + ".to_q", d, d);
                linear(out, b + attn + ".to_k", d, d);
                linear(out, b + attn + ".to_v", d, d);
                linear(out, b + attn + ".to_out.0", d, d);
                out.add(new Expected(b + attn + ".norm_q.weight", new int[] {d}));
                out.add(new Expected(b + attn + ".norm_k.weight", new int[] {d}));
            }
            if (c.crossAttnNorm()) {
                out.add(new Expected(b + "norm2.weight", new int[] {d}));
                out.add(new Expected(b + "norm2.bias", new int[] {d}));
            }
            linear(out, b + "ffn.net.0.proj", c.ffnDim(), d);
            linear(out, b + "ffn.net.2", d, c.ffnDim());
        }
        out.add(new Expected("scale_shift_table", new int[] {1, 2, d}));
        linear(out, "proj_out", c.patchVolume() * c.outChannels(), d);
        return out;
    }

    private static void linear(List<Expected> out, String name, int outF, int inF) {
        out.add(new Expected(name + ".weight", new int[] {outF, inF}));
        out.add(new Expected(name + ".bias", new int[] {outF}));
    }

    /** The canonical (diffusers) name of a stored name in either layout, with or without the single-file prefix. */
    public static String canonical(String stored) {
        String n = stored.startsWith(SINGLE_FILE_PREFIX) ? stored.substring(SINGLE_FILE_PREFIX.length()) : stored;
        return originalToDiffusers(n);
    }

    /** Whether a (prefix-free) name is spelled the original Wan way. */
    public static boolean isOriginalName(String name) {
        return !originalToDiffusers(name).equals(name) || name.equals("head.modulation")
                || BLOCK_KEY.matcher(name).matches() && name.endsWith(".modulation");
    }

    static String originalToDiffusers(String n) {
        if (n.equals("head.modulation")) {
            return "scale_shift_table";
        }
        for (String[] m : GLOBAL) {
            if (n.startsWith(m[0])) {
                return m[1] + n.substring(m[0].length());
            }
        }
        Matcher bm = BLOCK_KEY.matcher(n);
        if (bm.matches()) {
            String rest = bm.group(2);
            String b = "blocks." + bm.group(1) + ".";
            if (rest.equals("modulation")) {
                return b + "scale_shift_table";
            }
            for (String[] m : BLOCK) {
                if (rest.startsWith(m[0])) {
                    return b + m[1] + rest.substring(m[0].length());
                }
            }
        }
        return n;
    }

    /** The original Wan name of a canonical (diffusers) name. */
    public static String toOriginal(String n) {
        if (n.equals("scale_shift_table")) {
            return "head.modulation";
        }
        for (String[] m : GLOBAL) {
            if (n.startsWith(m[1])) {
                return m[0] + n.substring(m[1].length());
            }
        }
        Matcher bm = BLOCK_KEY.matcher(n);
        if (bm.matches()) {
            String rest = bm.group(2);
            String b = "blocks." + bm.group(1) + ".";
            if (rest.equals("scale_shift_table")) {
                return b + "modulation";
            }
            for (String[] m : BLOCK) {
                if (rest.startsWith(m[1])) {
                    return b + m[0] + rest.substring(m[1].length());
                }
            }
        }
        return n;
    }
}
