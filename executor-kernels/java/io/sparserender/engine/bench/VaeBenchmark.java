package io.sparserender.engine.bench;

import io.sparserender.engine.gpu.CudaDevice;
import io.sparserender.engine.gpu.CudaOps;
import io.sparserender.engine.gpu.DeviceBuffer;
import io.sparserender.engine.gpu.OpTimer;
import io.sparserender.engine.model.wan.WanPreset;
import io.sparserender.engine.sampler.NoiseGenerator;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.vae.WanVaeConfig;
import io.sparserender.engine.vae.WanVaeDecoder;
import io.sparserender.engine.vae.WanVaeTiny;
import io.sparserender.engine.video.LatentsToMp4;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * The VAE stage of a generation on its own: a released preset's decoder shapes with random bf16 weights
 * (written once under the cache, a few hundred MB, instead of the whole 20 GB repo), normal latents of the
 * clip's size decoded chunk by chunk into H.264 as a render does. Prints the time, the decoder's weight bytes
 * and the device memory peak of the decode over what was in use before it (the conv cache and one chunk's
 * activations): the number that, added to the DiT's resident weights, is the VAE stage's peak in a render.
 */
public final class VaeBenchmark {
    private VaeBenchmark() {}

    public static void run(CudaDevice device, WanPreset preset, Path cache, Path outDir, int width, int height, int frames, long seed,
                           PrintStream out) {
        WanVaeConfig config = WanVaeTiny.fullSize(preset.vae(), preset.transformer().inChannels(), seed);
        Path folder = cache.resolve(preset.name() + "-vae-random-" + seed);
        long t0 = System.nanoTime();
        writeOnce(folder, config, seed);
        out.printf(Locale.ROOT, "{\"vae\":\"%s\",\"write_s\":%.1f}%n", folder, (System.nanoTime() - t0) * 1e-9);
        CudaOps ops = new CudaOps(device);
        int factor = config.spatialFactor();
        if (width % factor != 0 || height % factor != 0 || (frames - 1) % config.temporalFactor() != 0) {
            throw new IllegalArgumentException("Cannot decode " + width + "x" + height + "x" + frames + " with the " + preset.vae()
                    + " VAE: size must be a multiple of " + factor + " and frames 1 + " + config.temporalFactor() + "k");
        }
        int[] latentShape = {config.zDim(), (frames - 1) / config.temporalFactor() + 1, height / factor, width / factor};
        ops.run(() -> {
            long before = device.arena().usedBytes();
            WanVaeDecoder<DeviceBuffer> vae = WanVaeDecoder.load(ops, folder);
            long weights = device.arena().usedBytes() - before;
            try (var region = ops.region()) {
                DeviceBuffer z = ops.fromHost(NoiseGenerator.normal(seed, latentShape));
                long start = device.arena().usedBytes();
                ops.resetMemoryPeak();
                long t1 = System.nanoTime();
                Path mp4 = outDir.resolve("vae-" + width + "x" + height + "x" + frames + ".mp4");
                Files.createDirectories(outDir);
                long written = LatentsToMp4.write(ops, vae, z, mp4, preset.defaults().fps());
                double seconds = (System.nanoTime() - t1) * 1e-9;
                out.printf(Locale.ROOT, "{\"vae\":\"%s\",\"size\":\"%dx%d\",\"frames\":%d,\"latents\":\"%s\",\"decode_encode_s\":%.2f,"
                                + "\"weights_gib\":%.3f,\"decode_peak_over_start_gib\":%.2f,\"frames_written\":%d,\"mp4_bytes\":%d}%n",
                        preset.vae(), width, height, frames, java.util.Arrays.toString(latentShape), seconds, weights / (double) (1L << 30),
                        (ops.memoryPeak() - start) / (double) (1L << 30), written, Files.size(mp4));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            // the decode alone, every launch bracketed by events: where its device time goes (no encoder)
            OpTimer timer = new OpTimer();
            CudaOps timedOps = new CudaOps(device, timer);
            try (var region = timedOps.region()) {
                WanVaeDecoder<DeviceBuffer> timedVae = WanVaeDecoder.load(timedOps, folder);
                DeviceBuffer z = timedOps.fromHost(NoiseGenerator.normal(seed, latentShape));
                long t1 = System.nanoTime();
                timedVae.decode(z, chunk -> {
                    timedOps.toHost(chunk);
                    timedOps.release(chunk);
                });
                double seconds = (System.nanoTime() - t1) * 1e-9;
                out.printf(Locale.ROOT, "{\"vae_decode_only_timed_s\":%.2f,\"split_ms\":{\"gemm\":%.1f,\"other\":%.1f}}%n", seconds,
                        timer.milliseconds(OpTimer.Kind.GEMM), timer.milliseconds(OpTimer.Kind.OTHER));
                out.println(DitBenchmark.byLaunchJson("vae", timer));
            }
            return null;
        });
    }

    private static void writeOnce(Path folder, WanVaeConfig config, long seed) {
        if (Files.isDirectory(folder)) {
            return;
        }
        try {
            Files.createDirectories(folder.getParent());
            Path tmp = Files.createTempDirectory(folder.getParent(), folder.getFileName() + ".tmp");
            WanVaeTiny.write(tmp, config, seed, DType.BF16);
            Files.move(tmp, folder, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write the random VAE under " + folder, e);
        }
    }
}
