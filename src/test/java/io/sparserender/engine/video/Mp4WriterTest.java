package io.sparserender.engine.video;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writes H.264 MP4s through FFmpeg and decodes them back with FFmpeg. */
class Mp4WriterTest {
    private static final int W = 64;
    private static final int H = 48;

    /** Frame t: left half one colour, right half another, both changing with t (values in 8-bit levels). */
    static int[] colour(int t, boolean right) {
        return right ? new int[] {200 - 10 * t, 60 + 5 * t, 120} : new int[] {40 + 12 * t, 160, 220 - 8 * t};
    }

    static Tensor pattern(int frames) {
        float[] d = new float[3 * frames * H * W];
        for (int c = 0; c < 3; c++) {
            for (int t = 0; t < frames; t++) {
                for (int y = 0; y < H; y++) {
                    for (int x = 0; x < W; x++) {
                        d[((c * frames + t) * H + y) * W + x] = colour(t, x >= W / 2)[c] / 127.5f - 1f;
                    }
                }
            }
        }
        return new Tensor(d, 3, frames, H, W);
    }

    @Test
    void writesH264ThatDecodesToTheSameFramesAndColours(@TempDir Path dir) throws Exception {
        int frames = 13;
        Path out = dir.resolve("clips/a.mp4");
        long start = System.nanoTime();
        try (Mp4Writer w = Mp4Writer.open(out, W, H, Mp4Settings.forVideo(W, H, 16))) {
            Tensor video = pattern(frames);
            w.write(new io.sparserender.engine.ops.CpuOps().slice(video, 1, 0, 1));
            assertThat(out).doesNotExist(); // nothing visible until close
            w.write(new io.sparserender.engine.ops.CpuOps().slice(video, 1, 1, frames));
        }
        System.out.printf("mp4 %dx%d x %d frames: %d bytes, %.0f ms%n", W, H, frames, Files.size(out),
                (System.nanoTime() - start) / 1e6);
        try (Stream<Path> files = Files.list(out.getParent())) {
            assertThat(files).containsExactly(out); // no temporary file left behind
        }
        Mp4Reader.Video v = Mp4Reader.read(out);
        assertThat(v.codec()).isEqualTo("h264");
        assertThat(v.width()).isEqualTo(W);
        assertThat(v.height()).isEqualTo(H);
        assertThat(v.fps()).isEqualTo(16.0);
        assertThat(v.frames()).hasSize(frames);
        for (int t = 0; t < frames; t++) {
            for (boolean right : new boolean[] {false, true}) {
                int[] want = colour(t, right);
                double[] mean = meanColour(v.frames().get(t), right ? W / 2 + 4 : 4, right ? W - 4 : W / 2 - 4);
                for (int c = 0; c < 3; c++) {
                    assertThat(mean[c]).as("frame %d %s channel %d", t, right ? "right" : "left", c)
                            .isCloseTo(want[c], org.assertj.core.data.Offset.offset(4.0));
                }
            }
        }
    }

    private static double[] meanColour(byte[] rgb, int x0, int x1) {
        double[] s = new double[3];
        int n = 0;
        for (int y = 4; y < H - 4; y++) {
            for (int x = x0; x < x1; x++) {
                for (int c = 0; c < 3; c++) {
                    s[c] += rgb[(y * W + x) * 3 + c] & 0xff;
                }
                n++;
            }
        }
        for (int c = 0; c < 3; c++) {
            s[c] /= n;
        }
        return s;
    }

    @Test
    void abortLeavesNeitherTargetNorTemporaryFile(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("b.mp4");
        Mp4Writer w = Mp4Writer.open(out, W, H, Mp4Settings.forVideo(W, H, 24));
        w.write(pattern(2));
        w.abort();
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void rejectsOddSizesAndMisshapedFrames(@TempDir Path dir) {
        assertThatThrownBy(() -> Mp4Writer.open(dir.resolve("c.mp4"), 63, 48, Mp4Settings.forVideo(63, 48, 16)))
                .hasMessageContaining("yuv420p needs even sizes, got 63x48");
        try (Mp4Writer w = Mp4Writer.open(dir.resolve("d.mp4"), W, H, Mp4Settings.forVideo(W, H, 16))) {
            assertThatThrownBy(() -> w.write(Tensor.zeros(3, 1, H, W + 2)))
                    .hasMessageContaining("expected [3, T, 48, 64]");
            w.write(pattern(1));
        }
    }

    @Test
    void convertsMinusOneToOneTo8BitLevels() {
        assertThat(FrameConversion.to8Bit(-1f)).isZero();
        assertThat(FrameConversion.to8Bit(1f)).isEqualTo(255);
        assertThat(FrameConversion.to8Bit(0f)).isEqualTo(128);
        assertThat(FrameConversion.to8Bit(-2f)).isZero();
        assertThat(FrameConversion.to8Bit(3f)).isEqualTo(255);
        assertThat(FrameConversion.to8Bit(Float.NaN)).isZero();
        byte[] rgb = new byte[3];
        FrameConversion.toRgb24(new Tensor(new float[] {-1, 0, 1}, 3, 1, 1, 1), 0, rgb);
        assertThat(rgb).containsExactly(0, (byte) 128, (byte) 255);
    }
}
