package io.sparserender.engine.pipeline;

import io.sparserender.engine.model.wan.WanPreset;
import io.sparserender.engine.model.wan.WanTiny;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.text.TinyUmT5;
import io.sparserender.engine.vae.WanVaeTiny;
import io.sparserender.engine.weights.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * A released preset's shapes with random weights, written as a real diffusers-layout repo (bf16), for
 * benchmarks of whole generations: the DiT at the preset's config, the VAE decoder at the released
 * architecture, and an umT5-XXL-shaped encoder (d_model = the DiT's text_dim, 64 heads × 64, d_ff 10240,
 * 24 layers) with the small generated vocabulary of the tiny models (the embedding gather costs nothing
 * either way). Written once per cache folder, atomically.
 */
public final class FullSizeRandomModel {
    private FullSizeRandomModel() {}

    public static ModelRepo resolve(WanPreset preset, long seed, Path cacheDir) {
        return resolve(preset, seed, cacheDir, false);
    }

    /**
     * @param oneExpertFile write the first expert only and make the later experts' folders links to it (identical
     *                      random weights; the renderer still loads and swaps each as its own expert): for a disk
     *                      that cannot hold every expert, e.g. A14B's two 28.6 GB experts beside its 9 GB encoder
     */
    public static ModelRepo resolve(WanPreset preset, long seed, Path cacheDir, boolean oneExpertFile) {
        String revision = "random-full-size-seed-" + seed + (oneExpertFile ? "-linked-experts" : "");
        Path root = cacheDir.resolve(preset.name() + "-random-" + seed + (oneExpertFile ? "-linked-experts" : ""));
        if (Files.isDirectory(root)) {
            return new ModelRepo(preset, root, revision);
        }
        try {
            Files.createDirectories(cacheDir);
            Path tmp = Files.createTempDirectory(cacheDir, "." + preset.name() + "-random-");
            for (int e = 0; e < preset.experts().size(); e++) {
                Path expert = tmp.resolve(preset.experts().get(e));
                if (oneExpertFile && e > 0) {
                    Files.createSymbolicLink(expert, Path.of(preset.experts().get(0))); // relative: the repo can move
                } else {
                    WanTiny.write(preset.transformer(), seed + e, DType.BF16, expert);
                }
            }
            new TinyUmT5(256, preset.transformer().textDim(), 64, 64, 10240, 24, seed + 100).write(tmp, DType.BF16);
            WanVaeTiny.write(tmp.resolve("vae"), WanVaeTiny.fullSize(preset.vae(), preset.transformer().inChannels(), seed),
                    seed + 200, DType.BF16);
            Files.move(tmp, root, StandardCopyOption.ATOMIC_MOVE);
            return new ModelRepo(preset, root, revision);
        } catch (IOException e) {
            throw new WeightsException("Cannot write a random " + preset.name() + " into " + cacheDir + ": " + e.getMessage(), e);
        }
    }
}
