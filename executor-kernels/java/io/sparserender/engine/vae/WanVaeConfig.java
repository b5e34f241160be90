package io.sparserender.engine.vae;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The decoder-relevant fields of a diffusers {@code AutoencoderKLWan} config.json, for both forms:
 * Wan 2.1 (z16, ×8 space, RGB out) and Wan 2.2 ({@code is_residual}, {@code decoder_base_dim},
 * {@code patch_size} 2: the decoder emits {@code out_channels} = 12 = RGB × 2×2 and unpatchifies).
 *
 * <p>{@code outChannels} is the decoder's conv_out width as in the published Wan 2.2 config (12 with
 * patch 2); the video has {@code outChannels / patch²} channels. {@code clipOutput} (config {@code clip_output},
 * default true) clamps the decoded video to [−1, 1]; the published Wan 2.2 TI2V config sets it false, and
 * diffusers then returns the unclamped values (8-bit conversion clamps in any case).
 */
public record WanVaeConfig(
        int baseDim,
        int decoderBaseDim,
        int zDim,
        List<Integer> dimMult,
        int numResBlocks,
        List<Boolean> temporalDownsample,
        boolean isResidual,
        int outChannels,
        int patchSize,
        List<Double> latentsMean,
        List<Double> latentsStd,
        boolean clipOutput) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public WanVaeConfig {
        dimMult = List.copyOf(Objects.requireNonNull(dimMult, "dimMult is null"));
        temporalDownsample = List.copyOf(Objects.requireNonNull(temporalDownsample, "temporalDownsample is null"));
        latentsMean = List.copyOf(Objects.requireNonNull(latentsMean, "latentsMean is null"));
        latentsStd = List.copyOf(Objects.requireNonNull(latentsStd, "latentsStd is null"));
        check(baseDim > 0 && decoderBaseDim > 0 && zDim > 0 && numResBlocks >= 0, "dimensions must be positive: base_dim "
                + baseDim + ", decoder_base_dim " + decoderBaseDim + ", z_dim " + zDim + ", num_res_blocks " + numResBlocks);
        check(!dimMult.isEmpty() && dimMult.stream().allMatch(m -> m > 0), "dim_mult must be positive, got " + dimMult);
        check(temporalDownsample.size() == dimMult.size() - 1, "temperal_downsample must have "
                + (dimMult.size() - 1) + " entries (len(dim_mult) − 1), got " + temporalDownsample);
        check(patchSize >= 1, "patch_size must be null or ≥ 1, got " + patchSize);
        check(outChannels > 0 && outChannels % (patchSize * patchSize) == 0, "out_channels " + outChannels
                + " must be a positive multiple of patch_size² = " + patchSize * patchSize);
        check(latentsMean.size() == zDim, "latents_mean must have z_dim = " + zDim + " entries, got " + latentsMean.size());
        check(latentsStd.size() == zDim, "latents_std must have z_dim = " + zDim + " entries, got " + latentsStd.size());
        check(latentsStd.stream().allMatch(s -> s > 0 && Double.isFinite(s)), "latents_std must be positive, got " + latentsStd);
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException("Invalid Wan VAE config: " + message);
        }
    }

    /** Decoder widths from the middle outwards: decoder_base_dim × [dim_mult[-1]] + reversed(dim_mult). */
    public int[] decoderDims() {
        int n = dimMult.size();
        int[] dims = new int[n + 1];
        dims[0] = decoderBaseDim * dimMult.get(n - 1);
        for (int i = 0; i < n; i++) {
            dims[i + 1] = decoderBaseDim * dimMult.get(n - 1 - i);
        }
        return dims;
    }

    /** Whether up-stage i doubles time (temperal_downsample reversed); the last stage never upsamples. */
    public boolean temporalUpsample(int stage) {
        return stage < dimMult.size() - 1 && temporalDownsample.get(dimMult.size() - 2 - stage);
    }

    public int upStages() {
        return dimMult.size();
    }

    /** Channels of the decoded video (3 for RGB). */
    public int videoChannels() {
        return outChannels / (patchSize * patchSize);
    }

    /** Pixels per latent cell along H and W: 2^(stages − 1) · patch. */
    public int spatialFactor() {
        return (1 << (dimMult.size() - 1)) * patchSize;
    }

    /** Pixel frames per latent frame after the first: 2^(temporal up-stages). */
    public int temporalFactor() {
        int f = 1;
        for (boolean b : temporalDownsample) {
            f *= b ? 2 : 1;
        }
        return f;
    }

    /** Output frames for {@code latentFrames} latent frames: 1 + factor·(T − 1). */
    public int outputFrames(int latentFrames) {
        return 1 + temporalFactor() * (latentFrames - 1);
    }

    /**
     * Whether {@code folder/config.json} declares {@code "_class_name": "AutoencoderKLWan"}: how a command tells a
     * VAE folder from a transformer's or text encoder's. False when there is no readable config.
     */
    public static boolean isWanVaeFolder(Path folder) {
        Path config = folder.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            return false;
        }
        try {
            return "AutoencoderKLWan".equals(JSON.readTree(config.toFile()).path("_class_name").asText());
        } catch (IOException e) {
            return false;
        }
    }

    /** Reads a diffusers VAE config.json; every problem names the file and the key. */
    public static WanVaeConfig read(Path configJson) {
        JsonNode root;
        try {
            root = JSON.readTree(configJson.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("Cannot read Wan VAE config " + configJson + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("Invalid Wan VAE config " + configJson + ": not a JSON object");
        }
        try {
            String cls = root.path("_class_name").asText("AutoencoderKLWan");
            if (!cls.equals("AutoencoderKLWan")) {
                throw new IllegalArgumentException("_class_name is '" + cls + "', expected 'AutoencoderKLWan'");
            }
            int baseDim = intField(root, "base_dim", 96);
            JsonNode dbd = root.get("decoder_base_dim");
            int decoderBaseDim = dbd == null || dbd.isNull() ? baseDim : asInt(dbd, "decoder_base_dim");
            JsonNode ps = root.get("patch_size");
            int patch = ps == null || ps.isNull() ? 1 : asInt(ps, "patch_size");
            List<Integer> dimMult = new ArrayList<>();
            for (JsonNode n : array(root, "dim_mult", "[1, 2, 4, 4]")) {
                dimMult.add(asInt(n, "dim_mult"));
            }
            List<Boolean> tds = new ArrayList<>();
            for (JsonNode n : array(root, "temperal_downsample", "[false, true, true]")) {
                if (!n.isBoolean()) {
                    throw new IllegalArgumentException("temperal_downsample holds " + n + ", not a boolean");
                }
                tds.add(n.asBoolean());
            }
            return new WanVaeConfig(baseDim, decoderBaseDim, intField(root, "z_dim", 16), dimMult,
                    intField(root, "num_res_blocks", 2), tds, bool(root, "is_residual", false),
                    intField(root, "out_channels", 3), patch, doubles(root, "latents_mean"), doubles(root, "latents_std"),
                    bool(root, "clip_output", true));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Invalid Wan VAE config " + configJson + ": " + e.getMessage(), e);
        }
    }

    /** The config as diffusers writes it (decoder fields plus the encoder fields diffusers requires). */
    public String toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("_class_name", "AutoencoderKLWan");
        o.putArray("attn_scales");
        o.put("base_dim", baseDim);
        if (!clipOutput) {
            o.put("clip_output", false);
        }
        if (decoderBaseDim == baseDim) {
            o.putNull("decoder_base_dim");
        } else {
            o.put("decoder_base_dim", decoderBaseDim);
        }
        ArrayNode dm = o.putArray("dim_mult");
        dimMult.forEach(dm::add);
        o.put("dropout", 0.0);
        o.put("in_channels", outChannels);
        o.put("is_residual", isResidual);
        ArrayNode mean = o.putArray("latents_mean");
        latentsMean.forEach(mean::add);
        ArrayNode std = o.putArray("latents_std");
        latentsStd.forEach(std::add);
        o.put("num_res_blocks", numResBlocks);
        o.put("out_channels", outChannels);
        if (patchSize == 1) {
            o.putNull("patch_size");
        } else {
            o.put("patch_size", patchSize);
        }
        o.put("scale_factor_spatial", spatialFactor());
        o.put("scale_factor_temporal", temporalFactor());
        ArrayNode td = o.putArray("temperal_downsample");
        temporalDownsample.forEach(td::add);
        o.put("z_dim", zDim);
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o);
        } catch (IOException e) {
            throw new IllegalStateException("Cannot serialise Wan VAE config: " + e.getMessage(), e);
        }
    }

    public void write(Path configJson) {
        try {
            Files.createDirectories(configJson.toAbsolutePath().getParent());
            Files.writeString(configJson, toJson());
        } catch (IOException e) {
            throw new IllegalArgumentException("Cannot write Wan VAE config " + configJson + ": " + e.getMessage(), e);
        }
    }

    private static boolean bool(JsonNode root, String key, boolean dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return dflt;
        }
        if (!n.isBoolean()) {
            throw new IllegalArgumentException(key + " is " + n + ", not a boolean");
        }
        return n.asBoolean();
    }

    private static int intField(JsonNode root, String key, int dflt) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? dflt : asInt(n, key);
    }

    private static int asInt(JsonNode n, String key) {
        if (!n.canConvertToInt() || !n.isIntegralNumber()) {
            throw new IllegalArgumentException(key + " is " + n + ", not an integer");
        }
        return n.asInt();
    }

    private static JsonNode array(JsonNode root, String key, String dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            try {
                return JSON.readTree(dflt);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        if (!n.isArray()) {
            throw new IllegalArgumentException(key + " is " + n + ", not an array");
        }
        return n;
    }

    private static List<Double> doubles(JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.isArray()) {
            throw new IllegalArgumentException(key + " is missing or not an array");
        }
        List<Double> out = new ArrayList<>();
        for (JsonNode v : n) {
            if (!v.isNumber()) {
                throw new IllegalArgumentException(key + " holds " + v + ", not a number");
            }
            out.add(v.asDouble());
        }
        return out;
    }
}
