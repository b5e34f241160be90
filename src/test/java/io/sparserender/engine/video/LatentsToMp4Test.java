package io.sparserender.engine.video;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.vae.WanVaeConfig;
import io.sparserender.engine.vae.WanVaeDecoder;
import io.sparserender.engine.vae.WanVaeLatents;
import io.sparserender.engine.vae.WanVaeTiny;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LatentsToMp4Test {
    @Test
    void tinyWan22LatentsBecomeAnMp4WithOnePlusFourTimesTMinusOneFrames(@TempDir Path dir) {
        CpuOps ops = new CpuOps();
        WanVaeConfig cfg = WanVaeTiny.wan22(8, 5);
        WanVaeDecoder<Tensor> decoder = tinyDecoder(ops, cfg, dir);
        SplittableRandom r = new SplittableRandom(2);
        float[] z = new float[8 * 3 * 2 * 4];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) r.nextGaussian();
        }
        Tensor latents = new Tensor(z, 8, 3, 2, 4);
        long frames = LatentsToMp4.write(ops, decoder, latents, dir.resolve("clip.mp4"), 24);
        assertThat(frames).isEqualTo(9);
        Mp4Reader.Video v = Mp4Reader.read(dir.resolve("clip.mp4"));
        assertThat(v.frames()).hasSize(9);
        assertThat(v.width()).isEqualTo(64);
        assertThat(v.height()).isEqualTo(32);
        assertThat(v.fps()).isEqualTo(24.0);
        // each MP4 frame is the decoder's frame within codec error, compared in luma (4:2:0 halves chroma detail),
        // and clearly closer to its own frame than to the next one
        Tensor video = decoder.decode(WanVaeLatents.denormalize(ops, latents.reshape(1, 8, 3, 2, 4), cfg))
                .reshape(3, 9, 32, 64);
        for (int t = 0; t < 9; t++) {
            double own = lumaError(video, t, v.frames().get(t));
            double other = lumaError(video, (t + 1) % 9, v.frames().get(t));
            System.out.printf("frame %d: mean |dY| %.2f (vs next frame %.2f)%n", t, own, other);
            assertThat(own).isLessThan(6.0).isLessThan(other / 2);
        }
    }

    /**
     * Encoding runs on a thread of its own while the next chunk decodes: a failure there, an exception or an error,
     * still reaches the caller, and the target file is never left behind half-written.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"exception", "error"})
    void aFailureWhileEncodingFailsTheWriteAndLeavesNoFile(String kind, @TempDir Path dir) {
        CpuOps ops = new CpuOps();
        WanVaeDecoder<Tensor> decoder = tinyDecoder(ops, WanVaeTiny.wan22(8, 5), dir);
        Tensor latents = new Tensor(new float[8 * 3 * 2 * 4], 8, 3, 2, 4);
        int[] seen = {0};
        Path target = dir.resolve("clip.mp4");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> LatentsToMp4.write(ops, decoder, latents, target, 24, frame -> {
            if (++seen[0] == 6) {
                if (kind.equals("error")) {
                    throw new OutOfMemoryError("no heap at frame 6");
                }
                throw new IllegalStateException("disk full at frame 6");
            }
        })).isInstanceOf(kind.equals("error") ? OutOfMemoryError.class : IllegalStateException.class).hasMessageContaining("at frame 6");
        assertThat(target).doesNotExist();
        try (var left = java.nio.file.Files.list(dir)) {
            assertThat(left.map(p -> p.getFileName().toString())).as("no temporary file left either").containsExactly("vae");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        assertThat(seen[0]).isEqualTo(6);
    }

    /** A tiny Wan 2.2 decoder written under {@code dir}/vae and loaded on {@code ops}. */
    private static WanVaeDecoder<Tensor> tinyDecoder(CpuOps ops, WanVaeConfig cfg, Path dir) {
        WanVaeTiny.write(dir.resolve("vae"), cfg, 5, DType.BF16);
        return WanVaeDecoder.load(ops, dir.resolve("vae"));
    }

    private static double lumaError(Tensor video, int t, byte[] decoded) {
        byte[] want = new byte[decoded.length];
        FrameConversion.toRgb24(video, t, want);
        double err = 0;
        for (int p = 0; p < want.length; p += 3) {
            err += Math.abs(luma(want, p) - luma(decoded, p));
        }
        return err / (want.length / 3);
    }

    private static double luma(byte[] rgb, int p) {
        return 0.299 * (rgb[p] & 0xff) + 0.587 * (rgb[p + 1] & 0xff) + 0.114 * (rgb[p + 2] & 0xff);
    }
}
