package io.sparserender.engine.video;

/**
 * Encoder settings of one MP4 file: H.264 (yuv420p, BT.601 limited range) at {@code fps} frames per second,
 * average {@code bitRate} bits per second under the encoder's rate control, a key frame every {@code gopFrames}.
 */
public record Mp4Settings(int fps, long bitRate, int gopFrames) {
    public Mp4Settings {
        if (fps < 1 || fps > 240) {
            throw new IllegalArgumentException("Invalid MP4 settings: fps must be in [1, 240], got " + fps);
        }
        if (bitRate < 10_000) {
            throw new IllegalArgumentException("Invalid MP4 settings: bit rate must be ≥ 10000 b/s, got " + bitRate);
        }
        if (gopFrames < 1) {
            throw new IllegalArgumentException("Invalid MP4 settings: key frame interval must be ≥ 1, got " + gopFrames);
        }
    }

    /**
     * Defaults for a size and frame rate: about 0.15 bits per pixel (832×480 at 16 fps → 0.96 Mb/s,
     * 1280×704 at 24 fps → 3.2 Mb/s), at least 200 kb/s, and a key frame every 2 seconds.
     */
    public static Mp4Settings forVideo(int width, int height, int fps) {
        long rate = Math.max(200_000L, Math.round(0.15 * width * height * fps));
        return new Mp4Settings(fps, rate, 2 * fps);
    }
}
