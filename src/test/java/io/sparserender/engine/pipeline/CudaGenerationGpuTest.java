package io.sparserender.engine.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.gpu.CudaOps;
import io.sparserender.engine.gpu.DeviceArena;
import io.sparserender.engine.gpu.DeviceBuffer;
import io.sparserender.engine.gpu.OpTimer;
import io.sparserender.engine.model.wan.SelfAttention;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.text.UmT5ForwardCheck;
import io.sparserender.engine.vae.WanVaeDecoder;
import io.sparserender.engine.video.Mp4Reader;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.testing.GpuTestDevice;
import io.sparserender.testing.RequiresGpu;
import io.sparserender.testing.SharedFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The prompt-to-video path on the CUDA backend: the umT5 encoder and both VAE decoders against the
 * reference outputs of transformers and diffusers (bf16 weights: bf16 tolerance), the chunked decode's
 * memory staying flat, and a whole tiny-model clip rendered on the GPU next to the same clip on the CPU.
 */
@RequiresGpu
@SuppressWarnings("try")
class CudaGenerationGpuTest {
    @TempDir
    Path dir;

    @Test
    void umt5EncoderMatchesTransformers() {
        CudaOps g = GpuTestDevice.cudaOps();
        try (DeviceArena.Scope s = g.device().arena().scope()) {
            UmT5ForwardCheck.Result r = g.run(() -> UmT5ForwardCheck.run(SharedFixtures.path("umt5/text_encoder"),
                    SharedFixtures.path("umt5/case-encode.safetensors"), g));
            System.out.printf("umT5 on CUDA vs transformers: rel L2 %.3e%n", r.relativeL2());
            assertThat(r.relativeL2()).isLessThan(2e-2);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"wan-vae21", "wan-vae22"})
    void vaeDecoderMatchesDiffusersWithFlatMemory(String fixture) {
        CudaOps g = GpuTestDevice.cudaOps();
        DeviceArena arena = g.device().arena();
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path(fixture + "/case-decode.safetensors"));
             DeviceArena.Scope s = arena.scope()) {
            Tensor z = f.readTensor("z");
            Tensor expected = f.readTensor("expected");
            GpuTestDevice.poisonFreeArena();
            long[] usedAfterChunk = new long[z.dim(2)];
            Tensor out = g.run(() -> {
                WanVaeDecoder<DeviceBuffer> vae = WanVaeDecoder.load(g, SharedFixtures.path(fixture + "/vae"));
                // the streaming form: one latent frame at a time, memory measured after each chunk
                DeviceBuffer zd = g.fromHost(z);
                int[] zs = z.shape();
                DeviceBuffer one = g.reshape(g.slice(zd, 0, 0, 1), zs[1], zs[2], zs[3], zs[4]);
                java.util.List<Tensor> chunks = new java.util.ArrayList<>();
                int[] i = {0};
                vae.decode(one, chunk -> {
                    chunks.add(g.toHost(chunk));
                    usedAfterChunk[i[0]++] = arena.usedBytes();
                });
                return new CpuOps().concat(1, chunks);
            });
            float[] want = java.util.Arrays.copyOf(expected.data(), out.numel()); // sample 0 of the batch
            double err = relL2(out.data(), want);
            System.out.printf("%s decode on CUDA vs diffusers: rel L2 %.3e; arena after each chunk %s%n", fixture, err,
                    java.util.Arrays.toString(usedAfterChunk));
            assertThat(err).isLessThan(2e-2);
            // from the second chunk on, every chunk leaves the same footprint: nothing accumulates
            for (int c = 2; c < usedAfterChunk.length; c++) {
                assertThat(usedAfterChunk[c]).as("arena after chunk %d", c).isEqualTo(usedAfterChunk[1]);
            }
        }
    }

    @Test
    void tinyClipOnTheGpuIsPlayableAndCloseToTheCpuClip() throws Exception {
        ModelRepo repo = ModelRepo.resolve("wan-tiny", dir.resolve("cache"));
        ClipSpec spec = new ClipSpec("a red fox running in the snow", "blurry", 7, 64, 32, 9, 4, 5.0, Double.NaN, 5.0,
                "dense", "wan-tiny", repo.revision());
        CudaOps g = GpuTestDevice.cudaOps();
        Path cpuDir = Files.createDirectories(dir.resolve("cpu"));
        Path gpuDir = Files.createDirectories(dir.resolve("gpu"));
        RenderResult cpu;
        try (WanClipRenderer<Tensor> r = new WanClipRenderer<>(new CpuOps(), repo, p -> SelfAttention.dense(), "cpu")) {
            cpu = r.render(spec, cpuDir, RenderListener.NONE);
        }
        DeviceArena arena = g.device().arena();
        try (DeviceArena.Scope s = arena.scope()) {
            RenderResult gpu;
            long before;
            try (WanClipRenderer<DeviceBuffer> r = new WanClipRenderer<>(g, repo, p -> CudaSelfAttention.forSpec(p, OpTimer.OFF),
                    "cuda")) {
                before = arena.usedBytes();
                gpu = r.render(spec, gpuDir, RenderListener.NONE);
                long resident = arena.usedBytes();
                assertThat(resident).as("after a clip only the text encoder's memory is gone (it waits in host memory)")
                        .isLessThan(before);
                assertThat(gpu.stagePeakBytes()).containsOnlyKeys("text", "dit", "vae");
                assertThat(gpu.stagePeakBytes().get("text")).as("text stage: every weight resident").isGreaterThanOrEqualTo(before);
                assertThat(gpu.stagePeakBytes().get("dit")).isGreaterThan(resident);
                assertThat(gpu.peakDeviceBytes()).isEqualTo(java.util.Collections.max(gpu.stagePeakBytes().values()));
                RenderResult again = r.render(new ClipSpec(spec.prompt(), spec.negativePrompt(), 8, 64, 32, 9, 4, 5.0, Double.NaN, 5.0,
                        "recall:r=0.95", "wan-tiny", repo.revision()), gpuDir, RenderListener.NONE);
                assertThat(again.video()).exists();
                assertThat(arena.usedBytes()).as("a rendered clip leaves no device memory behind").isEqualTo(resident);
                Path sameDir = Files.createDirectories(dir.resolve("gpu-same"));
                RenderResult same = r.render(spec, sameDir, RenderListener.NONE);
                double repeat = psnr(Mp4Reader.read(gpu.video()), Mp4Reader.read(same.video()));
                System.out.printf("tiny clip rendered again after the text encoder was parked and unparked: PSNR %.1f dB%n", repeat);
                assertThat(repeat).as("the unparked text encoder is the one that was parked").isGreaterThan(50);
            }
            Mp4Reader.Video a = Mp4Reader.read(cpu.video());
            Mp4Reader.Video b = Mp4Reader.read(gpu.video());
            assertThat(b.frames()).hasSize(9);
            assertThat(b.width()).isEqualTo(64);
            double psnr = psnr(a, b);
            System.out.printf("tiny clip: GPU vs CPU render PSNR %.1f dB; stages %s%n", psnr, gpu.stageSeconds());
            assertThat(psnr).isGreaterThan(25);
            assertThat(gpu.attention()).hasSize(4 * 2);
        }
    }

    @Test
    void aClipTooLargeForDeviceMemoryFailsAloneNamingItsSizeAndTheNextClipRenders() throws Exception {
        ModelRepo repo = ModelRepo.resolve("wan-tiny", dir.resolve("cache"));
        CudaOps g = GpuTestDevice.cudaOps();
        DeviceArena arena = g.device().arena();
        try (DeviceArena.Scope s = arena.scope();
             WanClipRenderer<DeviceBuffer> r = new WanClipRenderer<>(g, repo, p -> CudaSelfAttention.forSpec(p, OpTimer.OFF), "cuda")) {
            // leave the renderer 256 MiB of the arena: a small clip fits, a 2048x2048 one does not
            long ballastBytes = arena.capacityBytes() - arena.usedBytes() - (256L << 20);
            arena.allocate(io.sparserender.engine.tensor.DType.I32, (int) (ballastBytes / 4 / 65536), 65536);
            long used = arena.usedBytes();
            ClipSpec big = new ClipSpec("a red fox", "blurry", 1, 2048, 2048, 33, 2, 5.0, Double.NaN, 5.0, "dense", "wan-tiny",
                    repo.revision());
            Path out = Files.createDirectories(dir.resolve("oom"));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> r.render(big, out, RenderListener.NONE))
                    .isInstanceOf(ClipFailedException.class)
                    .hasMessageContaining(big.clipId()).hasMessageContaining("2048x2048, 33 frames")
                    .hasMessageContaining("out of device memory");
            assertThat(arena.usedBytes()).as("the failed clip left no device memory behind").isEqualTo(used);
            RenderResult small = r.render(new ClipSpec("a red fox", "blurry", 1, 64, 32, 9, 2, 5.0, Double.NaN, 5.0, "dense",
                    "wan-tiny", repo.revision()), out, RenderListener.NONE);
            assertThat(Mp4Reader.read(small.video()).frames()).hasSize(9);
            assertThat(arena.usedBytes()).isEqualTo(used);
        }
    }

    @Test
    void twoExpertsShareOneExpertsDeviceMemoryAndRenderLikeTheCpu() throws Exception {
        ModelRepo tiny = ModelRepo.resolve("wan-tiny", dir.resolve("cache"));
        ModelRepo two = io.sparserender.testing.TwoExpertTiny.write(tiny, dir.resolve("two-experts"), 99);
        // 4 steps at shift 5: timesteps 1000, 937 (high-noise expert), 833, 625 (low-noise expert)
        ClipSpec spec = new ClipSpec("a red fox running in the snow", "blurry", 7, 64, 32, 9, 4, 5.0, 3.0, 5.0,
                "dense", two.preset().name(), two.revision());
        RenderResult cpu;
        try (WanClipRenderer<Tensor> r = new WanClipRenderer<>(new CpuOps(), two, p -> SelfAttention.dense(), "cpu")) {
            cpu = r.render(spec, Files.createDirectories(dir.resolve("cpu2")), RenderListener.NONE);
        }
        CudaOps g = GpuTestDevice.cudaOps();
        DeviceArena arena = g.device().arena();
        try (DeviceArena.Scope s = arena.scope()) {
            // Measured between aligned points: each buffer starts at the next ALIGNMENT boundary, so a load begun at
            // an unaligned top (the last buffer before it of odd size) pads its first buffer; both loads are
            // compared as if begun on a boundary.
            long start = aligned(arena.usedBytes());
            long oneExpert;
            try (WanClipRenderer<DeviceBuffer> r = new WanClipRenderer<>(g, tiny, p -> CudaSelfAttention.forSpec(p, OpTimer.OFF), "cuda")) {
                oneExpert = aligned(arena.usedBytes()) - start;
            }
            long beforeTwo = aligned(arena.usedBytes()); // the one-expert renderer's weights stay in the test's scope
            try (WanClipRenderer<DeviceBuffer> r = new WanClipRenderer<>(g, two, p -> CudaSelfAttention.forSpec(p, OpTimer.OFF), "cuda")) {
                assertThat(aligned(arena.usedBytes()) - beforeTwo).as("two same-shaped experts take the device memory of one")
                        .isEqualTo(oneExpert);
                RenderResult first = r.render(spec, Files.createDirectories(dir.resolve("gpu2a")), RenderListener.NONE);
                RenderResult again = r.render(spec, Files.createDirectories(dir.resolve("gpu2b")), RenderListener.NONE);
                double vsCpu = psnr(Mp4Reader.read(cpu.video()), Mp4Reader.read(first.video()));
                double repeat = psnr(Mp4Reader.read(first.video()), Mp4Reader.read(again.video()));
                System.out.printf("two experts sharing device memory: GPU vs CPU PSNR %.1f dB, second clip (after swaps) vs first %.1f dB%n",
                        vsCpu, repeat);
                assertThat(vsCpu).isGreaterThan(25);
                assertThat(again.stageSeconds()).as("the clip timed its expert copies").containsKey("expert_swap");
                assertThat(repeat).as("each expert's weights come back intact after a swap").isGreaterThan(50);
            }
        }
    }

    private static long aligned(long bytes) {
        return (bytes + DeviceArena.ALIGNMENT - 1) / DeviceArena.ALIGNMENT * DeviceArena.ALIGNMENT;
    }

    private static double psnr(Mp4Reader.Video a, Mp4Reader.Video b) {
        double se = 0;
        long n = 0;
        for (int f = 0; f < a.frames().size(); f++) {
            byte[] x = a.frames().get(f);
            byte[] y = b.frames().get(f);
            for (int i = 0; i < x.length; i++) {
                double d = (x[i] & 0xFF) - (y[i] & 0xFF);
                se += d * d;
                n++;
            }
        }
        return se == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(255.0 * 255.0 / (se / n));
    }

    private static double relL2(float[] got, float[] want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < got.length; i++) {
            double d = got[i] - (double) want[i];
            num += d * d;
            den += (double) want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }
}
