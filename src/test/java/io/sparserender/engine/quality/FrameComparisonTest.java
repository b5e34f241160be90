package io.sparserender.engine.quality;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A whole-clip comparison streamed from two raw frame files agrees with the metrics computed directly. */
class FrameComparisonTest {
    @TempDir
    Path dir;

    private CapturedRender write(String name, List<byte[]> frames, int w, int h, float[] latents) {
        Path f = dir.resolve(name);
        try (RawFrames.Writer out = new RawFrames.Writer(f, w, h)) {
            frames.forEach(out);
        }
        return new CapturedRender(f, w, h, frames.size(), latents);
    }

    @Test
    void identicalRendersAndAPerturbedOne() {
        int w = 16;
        int h = 12;
        Random rnd = new Random(5);
        List<byte[]> ref = new ArrayList<>();
        List<byte[]> noisy = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            byte[] f = new byte[w * h * 3];
            rnd.nextBytes(f);
            ref.add(f);
            byte[] g = f.clone();
            for (int i = 0; i < g.length; i += 7) {
                g[i] = (byte) Math.min(255, (g[i] & 0xff) + 3);
            }
            noisy.add(g);
        }
        float[] z = {1, 2, 3, 4};
        CapturedRender a = write("ref.rgb", ref, w, h, z);
        ClipQuality same = FrameComparison.compare(write("copy.rgb", ref, w, h, z.clone()), a);
        assertThat(same.frames()).isEqualTo(3);
        assertThat(same.psnr()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(same.ssim()).isEqualTo(1.0);
        assertThat(same.latentRelL2()).isZero();
        assertThat(same.flicker()).isEqualTo(same.flickerReference()).isPositive();

        ClipQuality q = FrameComparison.compare(write("noisy.rgb", noisy, w, h, new float[] {1, 2, 3, 5}), a);
        Psnr psnr = new Psnr();
        Flicker flicker = new Flicker();
        double ssim = 0;
        for (int t = 0; t < 3; t++) {
            psnr.add(noisy.get(t), ref.get(t));
            flicker.add(Luma.of(noisy.get(t), w, h));
            ssim += Ssim.mean(Luma.of(noisy.get(t), w, h), Luma.of(ref.get(t), w, h), w, h) / 3;
        }
        assertThat(q.psnr()).isEqualTo(psnr.db()).isFinite().isGreaterThan(30);
        assertThat(q.ssim()).isCloseTo(ssim, within(1e-15)).isLessThan(1.0);
        assertThat(q.flicker()).isEqualTo(flicker.score());
        assertThat(q.flickerReference()).isEqualTo(same.flickerReference());
        assertThat(q.latentRelL2()).isCloseTo(1 / Math.sqrt(30), within(1e-12));
    }

    @Test
    void rendersOfDifferentShapesAreNotCompared() {
        List<byte[]> one = List.of(new byte[16 * 12 * 3]);
        CapturedRender a = write("a.rgb", one, 16, 12, new float[1]);
        CapturedRender b = write("b.rgb", List.of(new byte[16 * 12 * 3], new byte[16 * 12 * 3]), 16, 12, new float[1]);
        assertThatThrownBy(() -> FrameComparison.compare(a, b)).hasMessageContaining("(1 frames of 16x12) with ")
                .hasMessageEndingWith("(2 frames of 16x12)");
    }
}
