package io.sparserender.engine.pipeline;

import io.sparserender.engine.model.wan.WanConfig;
import io.sparserender.engine.model.wan.WanModelDir;
import io.sparserender.engine.model.wan.WanPreset;
import io.sparserender.engine.model.wan.WanTiny;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.text.TinyUmT5;
import io.sparserender.engine.vae.WanVaeTiny;
import io.sparserender.engine.weights.WeightsException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * A complete diffusers-layout model repo on local disk ({@code transformer/} [+ {@code transformer_2/}],
 * {@code vae/}, {@code text_encoder/}, {@code tokenizer/}) with the preset that describes it.
 *
 * <p>{@code --model} is either such a folder (its preset found by matching the transformer config) or a
 * preset name. Presets with a generator ({@code wan-tiny}) are generated on first use into the cache
 * folder, atomically; released models must be downloaded. A model on object storage is a local folder
 * here too: the executor stages it first (driver.staging), and the driver identifies it beforehand with
 * {@link #presetOf} and {@link #revisionOf} over the remote files.
 *
 * @param revision identifies the weights in clip ids: for generated models the generator seed, for
 *                 folders a hash of every config file and every safetensors header (names, shapes, dtypes,
 *                 offsets) ({@link #revisionOf}) — cheap to compute on every start, though blind to edits that
 *                 keep the headers (the staging checksums catch those in transit)
 */
public record ModelRepo(WanPreset preset, Path root, String revision) {
    private static final String TINY_TEXT_SEED_OFFSET = "text";
    private static final List<String> PARTS = List.of("vae", "text_encoder", "tokenizer");

    public static ModelRepo resolve(String model, Path cacheDir) {
        Path p = Path.of(model);
        if (Files.isDirectory(p)) {
            return fromFolder(p);
        }
        if (!WanPreset.BUILT_IN.contains(model)) {
            throw new WeightsException("Cannot find model '" + model + "': not a folder, and not a preset "
                    + WanPreset.BUILT_IN);
        }
        WanPreset preset = WanPreset.builtIn(model);
        if (preset.generator() == null) {
            throw new WeightsException("Cannot use model '" + model + "' by name: it is a released model; download "
                    + "its diffusers repo and pass --model DIR");
        }
        return generated(preset, cacheDir);
    }

    private static ModelRepo fromFolder(Path root) {
        WanModelDir dir = WanModelDir.resolve(root);
        for (String part : PARTS) {
            if (!Files.isDirectory(root.resolve(part))) {
                throw new WeightsException("Cannot use model folder " + root + ": no " + part
                        + "/ folder (a diffusers repo has transformer/, vae/, text_encoder/, tokenizer/)");
            }
        }
        WanPreset preset = presetFor(dir.experts().get(0).config(), dir.experts().size(), root.toString());
        return new ModelRepo(preset, root, revisionOf(ModelFiles.local(root)));
    }

    /**
     * The preset of a diffusers repo read through {@code files} (a model on object storage, identified by
     * the driver before any executor stages it): {@code transformer/config.json} [+ {@code transformer_2/}]
     * matched against the presets, and {@code vae/}, {@code text_encoder/}, {@code tokenizer/} present.
     */
    public static WanPreset presetOf(ModelFiles files) {
        List<String> paths = files.paths();
        String config = "transformer/config.json";
        if (!paths.contains(config)) {
            throw new WeightsException("Cannot use model " + files.location() + ": no " + config
                    + " (a diffusers repo has transformer/, vae/, text_encoder/, tokenizer/)");
        }
        for (String part : PARTS) {
            if (paths.stream().noneMatch(p -> p.startsWith(part + "/"))) {
                throw new WeightsException("Cannot use model " + files.location() + ": no " + part
                        + "/ folder (a diffusers repo has transformer/, vae/, text_encoder/, tokenizer/)");
            }
        }
        WanConfig cfg;
        try (InputStream in = files.open(config)) {
            cfg = WanConfig.fromJson(new com.fasterxml.jackson.databind.ObjectMapper().readTree(in));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + files.location() + "/" + config + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new WeightsException("Invalid Wan config " + files.location() + "/" + config + ": " + e.getMessage(), e);
        }
        int experts = paths.contains("transformer_2/config.json") ? 2 : 1;
        return presetFor(cfg, experts, files.location());
    }

    private static WanPreset presetFor(WanConfig cfg, int experts, String where) {
        for (String name : WanPreset.BUILT_IN) {
            WanPreset preset = WanPreset.builtIn(name);
            if (sameArchitecture(preset.transformer(), cfg) && preset.experts().size() == experts) {
                return preset;
            }
        }
        throw new WeightsException("Cannot tell which Wan model " + where + " is: its transformer config (dim "
                + cfg.dim() + ", " + cfg.numLayers() + " layers, " + cfg.inChannels() + " channels) matches no preset "
                + WanPreset.BUILT_IN);
    }

    private static boolean sameArchitecture(WanConfig a, WanConfig b) {
        return a.dim() == b.dim() && a.numLayers() == b.numLayers() && a.numHeads() == b.numHeads()
                && a.inChannels() == b.inChannels() && a.outChannels() == b.outChannels() && a.ffnDim() == b.ffnDim()
                && a.textDim() == b.textDim();
    }

    /** Generates a preset's random weights once into {@code cacheDir}; concurrent starts agree on one copy. */
    private static ModelRepo generated(WanPreset preset, Path cacheDir) {
        long seed = preset.generator().seed();
        String revision = "generated-seed-" + seed;
        Path root = cacheDir.resolve(preset.name() + "-" + seed);
        if (Files.isDirectory(root)) {
            return new ModelRepo(preset, root, revision);
        }
        try {
            Files.createDirectories(cacheDir);
            Path tmp = Files.createTempDirectory(cacheDir, "." + preset.name() + "-");
            WanTiny.write(preset, tmp.resolve("transformer"));
            int textDim = preset.transformer().textDim();
            new TinyUmT5(256, textDim, 16, 2, 2 * textDim, 2, seed ^ TINY_TEXT_SEED_OFFSET.hashCode()).write(tmp);
            int z = preset.transformer().inChannels();
            var vae = preset.vae().equals("wan2.2") ? WanVaeTiny.wan22(z, seed) : WanVaeTiny.wan21(z, seed);
            WanVaeTiny.write(tmp.resolve("vae"), vae, seed, DType.BF16);
            try {
                Files.move(tmp, root, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException | java.nio.file.DirectoryNotEmptyException e) {
                deleteTree(tmp); // another process finished first: use its copy
            }
            return new ModelRepo(preset, root, revision);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot generate model " + preset.name() + " into " + cacheDir + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * A folder's revision: SHA-256 over every {@code .json} file and every safetensors header, each
     * preceded by its relative path, in path order. The same for a remote folder and its staged copy.
     */
    public static String revisionOf(ModelFiles files) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (String path : files.paths()) {
            String n = path.substring(path.lastIndexOf('/') + 1);
            if (!n.endsWith(".json") && !n.endsWith(".safetensors")) {
                continue;
            }
            try (InputStream in = files.open(path)) {
                md.update(path.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                md.update(n.endsWith(".json") ? in.readAllBytes() : safetensorsHeader(in, files.location() + "/" + path));
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot read " + files.location() + "/" + path + ": " + e.getMessage(), e);
            }
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest(), 0, 8);
    }

    private static byte[] safetensorsHeader(InputStream in, String file) throws IOException {
        byte[] len = in.readNBytes(8);
        if (len.length < 8) {
            throw new WeightsException("Invalid safetensors file " + file + ": shorter than 8 bytes");
        }
        long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n < 0 || n > 100L << 20) {
            throw new WeightsException("Invalid safetensors file " + file + ": header length " + n);
        }
        return in.readNBytes((int) n);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
