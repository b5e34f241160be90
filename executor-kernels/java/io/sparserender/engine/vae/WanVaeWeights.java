package io.sparserender.engine.vae;

import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.Checkpoint;
import io.sparserender.engine.weights.TensorInfo;
import io.sparserender.engine.weights.WeightsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The decoder half of a diffusers {@code AutoencoderKLWan} folder ({@code config.json} plus safetensors with
 * diffusers key names, F32/F16/BF16), read into float32 host tensors. The expected tensors and shapes
 * follow from the config ({@link #decoderShapes}); encoder tensors are allowed and skipped. Every
 * missing, unexpected or misshaped tensor is reported together in one {@link WeightsException}.
 */
public final class WanVaeWeights {
    private final Path source;
    private final WanVaeConfig config;
    private final Map<String, Tensor> tensors;

    public WanVaeWeights(Path source, WanVaeConfig config, Map<String, Tensor> tensors) {
        this.source = source;
        this.config = config;
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    public static WanVaeWeights load(Path vaeFolder) {
        Path configJson = vaeFolder.resolve("config.json");
        if (!Files.isRegularFile(configJson)) {
            throw new WeightsException("Cannot load Wan VAE from " + vaeFolder + ": no config.json in the folder");
        }
        WanVaeConfig config = WanVaeConfig.read(configJson);
        Map<String, int[]> expected = decoderShapes(config);
        try (Checkpoint ck = Checkpoint.open(vaeFolder)) {
            List<String> missing = new ArrayList<>();
            List<String> misshaped = new ArrayList<>();
            List<String> unexpected = new ArrayList<>();
            for (Map.Entry<String, int[]> e : expected.entrySet()) {
                if (!ck.contains(e.getKey())) {
                    missing.add(e.getKey() + " " + Arrays.toString(e.getValue()));
                    continue;
                }
                TensorInfo info = ck.info(e.getKey());
                if (!Arrays.equals(info.shape(), e.getValue()) || !info.dtype().isFloatingPoint()) {
                    misshaped.add(e.getKey() + " is " + info.dtype() + Arrays.toString(info.shape()) + ", expected float "
                            + Arrays.toString(e.getValue()));
                }
            }
            for (String name : ck.tensors().keySet()) {
                if (!expected.containsKey(name) && !name.startsWith("encoder.") && !name.startsWith("quant_conv.")) {
                    unexpected.add(name);
                }
            }
            if (!missing.isEmpty() || !misshaped.isEmpty() || !unexpected.isEmpty()) {
                StringBuilder m = new StringBuilder("Invalid Wan VAE checkpoint " + ck.source() + " for config " + configJson + ":");
                append(m, "missing", missing);
                append(m, "misshaped", misshaped);
                append(m, "unexpected", unexpected);
                throw new WeightsException(m.toString());
            }
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (String name : expected.keySet()) {
                out.put(name, ck.readTensor(name));
            }
            return new WanVaeWeights(vaeFolder, config, out);
        }
    }

    private static void append(StringBuilder m, String what, List<String> items) {
        if (!items.isEmpty()) {
            m.append(' ').append(items.size()).append(' ').append(what).append(" tensor").append(items.size() == 1 ? "" : "s")
                    .append(": ").append(String.join(", ", items)).append(';');
        }
    }

    public Path source() {
        return source;
    }

    public WanVaeConfig config() {
        return config;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** The tensor with its stored shape. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new WeightsException("Cannot find tensor '" + name + "' in Wan VAE weights " + source);
        }
        return t;
    }

    /** Every decoder tensor with its shape, in module order (diffusers key names). */
    public static Map<String, int[]> decoderShapes(WanVaeConfig c) {
        Map<String, int[]> m = new LinkedHashMap<>();
        int z = c.zDim();
        int[] d = c.decoderDims();
        conv(m, "post_quant_conv", z, z, 1, 1, 1);
        conv(m, "decoder.conv_in", d[0], z, 3, 3, 3);
        resnet(m, "decoder.mid_block.resnets.0", d[0], d[0]);
        String attn = "decoder.mid_block.attentions.0";
        m.put(attn + ".norm.gamma", new int[] {d[0], 1, 1});
        m.put(attn + ".to_qkv.weight", new int[] {3 * d[0], d[0], 1, 1});
        m.put(attn + ".to_qkv.bias", new int[] {3 * d[0]});
        m.put(attn + ".proj.weight", new int[] {d[0], d[0], 1, 1});
        m.put(attn + ".proj.bias", new int[] {d[0]});
        resnet(m, "decoder.mid_block.resnets.1", d[0], d[0]);
        for (int i = 0; i < c.upStages(); i++) {
            String p = "decoder.up_blocks." + i;
            int in = stageInput(c, i);
            int out = d[i + 1];
            for (int j = 0; j <= c.numResBlocks(); j++) {
                resnet(m, p + ".resnets." + j, j == 0 ? in : out, out);
            }
            if (hasUpsample(c, i)) {
                String u = p + (c.isResidual() ? ".upsampler" : ".upsamplers.0");
                m.put(u + ".resample.1.weight", new int[] {upsampleOut(c, i), out, 3, 3});
                m.put(u + ".resample.1.bias", new int[] {upsampleOut(c, i)});
                if (c.temporalUpsample(i)) {
                    conv(m, u + ".time_conv", 2 * out, out, 3, 1, 1);
                }
            }
        }
        int last = d[d.length - 1];
        m.put("decoder.norm_out.gamma", new int[] {last, 1, 1, 1});
        conv(m, "decoder.conv_out", c.outChannels(), last, 3, 3, 3);
        return m;
    }

    /** Input width of up-stage i: Wan 2.1's upsamplers halve the width, so later stages take half. */
    static int stageInput(WanVaeConfig c, int stage) {
        int[] d = c.decoderDims();
        return stage > 0 && !c.isResidual() ? d[stage] / 2 : d[stage];
    }

    static boolean hasUpsample(WanVaeConfig c, int stage) {
        return stage < c.upStages() - 1;
    }

    /** Output width of up-stage i's spatial conv: half (2.1) or all (2.2) of the stage's width. */
    static int upsampleOut(WanVaeConfig c, int stage) {
        int out = c.decoderDims()[stage + 1];
        return c.isResidual() ? out : out / 2;
    }

    private static void conv(Map<String, int[]> m, String prefix, int out, int in, int kt, int kh, int kw) {
        m.put(prefix + ".weight", new int[] {out, in, kt, kh, kw});
        m.put(prefix + ".bias", new int[] {out});
    }

    private static void resnet(Map<String, int[]> m, String p, int in, int out) {
        m.put(p + ".norm1.gamma", new int[] {in, 1, 1, 1});
        conv(m, p + ".conv1", out, in, 3, 3, 3);
        m.put(p + ".norm2.gamma", new int[] {out, 1, 1, 1});
        conv(m, p + ".conv2", out, out, 3, 3, 3);
        if (in != out) {
            conv(m, p + ".conv_shortcut", out, in, 1, 1, 1);
        }
    }
}
