package io.sparserender.engine.bench;

import io.sparserender.engine.gpu.CudaDevice;
import io.sparserender.engine.gpu.CudaOps;
import io.sparserender.engine.gpu.DeviceBuffer;
import io.sparserender.engine.gpu.OpTimer;
import io.sparserender.engine.model.wan.WanPreset;
import io.sparserender.engine.pipeline.ClipSpec;
import io.sparserender.engine.pipeline.CudaSelfAttention;
import io.sparserender.engine.pipeline.FullSizeRandomModel;
import io.sparserender.engine.pipeline.ModelRepo;
import io.sparserender.engine.pipeline.RenderResult;
import io.sparserender.engine.pipeline.WanClipRenderer;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * One whole generation on the GPU with a released preset's shapes and random weights
 * ({@link FullSizeRandomModel}): text encoding, every denoising step (conditional and unconditional as a
 * batch of 2), the chunked VAE decode streamed into H.264. Prints the model write and load times, the
 * stage times of {@link RenderResult}, the seconds of each step, and the device memory peak per stage (the
 * arena bytes in use, resident weights included — the text encoder's only in the text stage, it waits in host
 * memory after; the arena itself reserves more).
 */
public final class GenerateBenchmark {
    private GenerateBenchmark() {}

    public static RenderResult run(CudaDevice device, WanPreset preset, Path cache, Path outDir, int width, int height,
                                   int frames, int steps, String policy, long seed, int clips, boolean linkedExperts,
                                   PrintStream out) {
        long t0 = System.nanoTime();
        ModelRepo repo = FullSizeRandomModel.resolve(preset, seed, cache, linkedExperts);
        long t1 = System.nanoTime();
        out.printf(Locale.ROOT, "{\"model\":\"%s\",\"write_s\":%.1f}%n", repo.root(), (t1 - t0) * 1e-9);
        CudaOps ops = new CudaOps(device);
        long[] stepStart = {System.nanoTime()};
        try (WanClipRenderer<DeviceBuffer> r = new WanClipRenderer<>(ops, repo, spec -> CudaSelfAttention.forSpec(spec, OpTimer.OFF),
                "cuda:" + device.info().index() + " " + device.info().name())) {
            long t2 = System.nanoTime();
            long weights = device.arena().usedBytes();
            out.printf(Locale.ROOT, "{\"load_s\":%.1f,\"weights_gib\":%.2f}%n", (t2 - t1) * 1e-9, weights / (double) (1L << 30));
            RenderResult res = null;
            for (int c = 0; c < clips; c++) {
                ClipSpec spec = new ClipSpec("a red fox running through fresh snow at dawn, cinematic", "blurry, low quality", seed + c,
                        width, height, frames, steps, preset.defaults().guidance().get(0),
                        preset.defaults().guidance().size() > 1 ? preset.defaults().guidance().get(1) : Double.NaN, preset.defaults().shift(),
                        policy, preset.name(), repo.revision());
                Files.createDirectories(outDir);
                long clipStart = System.nanoTime();
                stepStart[0] = clipStart;
                res = r.render(spec, outDir, (id, stage, done, total) -> {
                    if (stage.equals("dit")) {
                        long now = System.nanoTime();
                        out.printf(Locale.ROOT, "{\"step\":%d,\"of\":%d,\"s\":%.2f}%n", done, total, (now - stepStart[0]) * 1e-9);
                        stepStart[0] = now;
                    } else if (stage.equals("vae")) {
                        stepStart[0] = System.nanoTime();
                    }
                });
                double wall = (System.nanoTime() - clipStart) * 1e-9;
                String peaks = res.stagePeakBytes().entrySet().stream()
                        .map(e -> String.format(Locale.ROOT, "\"%s\":%.2f", e.getKey(), e.getValue() / (double) (1L << 30)))
                        .collect(Collectors.joining(","));
                String stages = res.stageSeconds().entrySet().stream()
                        .map(e -> String.format(Locale.ROOT, "\"%s\":%.2f", e.getKey(), e.getValue())).collect(Collectors.joining(","));
                out.printf(Locale.ROOT, "{\"clip\":%d,\"of\":%d,\"policy\":\"%s\",\"size\":\"%dx%d\",\"frames\":%d,\"steps\":%d,\"wall_s\":%.2f,"
                                + "\"stages_s\":{%s},\"peak_gib_by_stage\":{%s},\"clip_peak_gib\":%.2f,\"weights_gib\":%.2f,"
                                + "\"mean_tile_sparsity\":%.4f,\"mp4_bytes\":%d}%n",
                        c + 1, clips, policy, width, height, frames, steps, wall, stages, peaks,
                        res.peakDeviceBytes() / (double) (1L << 30), weights / (double) (1L << 30), res.tileSparsity(), Files.size(res.video()));
            }
            return res;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static String describe(Map<String, Double> m) {
        return m.toString();
    }
}
