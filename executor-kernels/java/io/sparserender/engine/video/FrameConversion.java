package io.sparserender.engine.video;

import io.sparserender.engine.tensor.Tensor;

/**
 * Decoded video [3, T, H, W] (channels-first RGB, values in [−1, 1], the VAE decoder's per-sample output) to
 * 8-bit packed RGB24 frames: round((x + 1)·127.5) clamped to [0, 255], as diffusers' video post-processing does.
 */
public final class FrameConversion {
    private FrameConversion() {}

    /** Writes frame {@code t} of {@code video} [3, T, H, W] into {@code rgb} (H·W·3 bytes, row-major, R G B). */
    public static void toRgb24(Tensor video, int t, byte[] rgb) {
        if (video.rank() != 4 || video.dim(0) != 3) {
            throw new IllegalArgumentException("Cannot convert video " + video + " to RGB: expected [3, T, H, W]");
        }
        int frames = video.dim(1);
        int h = video.dim(2);
        int w = video.dim(3);
        if (t < 0 || t >= frames || rgb.length != h * w * 3) {
            throw new IllegalArgumentException("Cannot convert frame " + t + " of " + video + " into " + rgb.length + " bytes");
        }
        float[] d = video.data();
        int plane = h * w;
        for (int c = 0; c < 3; c++) {
            int base = (c * frames + t) * plane;
            for (int p = 0; p < plane; p++) {
                rgb[p * 3 + c] = (byte) to8Bit(d[base + p]);
            }
        }
    }

    /** One value in [−1, 1] to [0, 255]; NaN maps to 0. */
    public static int to8Bit(float x) {
        if (!(x > -1f)) {
            return 0;
        }
        return (int) Math.min(255, Math.round((x + 1.0) * 127.5));
    }
}
