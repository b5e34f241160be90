package io.sparserender.engine.quality;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What a render keeps for a comparison with another render: its 8-bit frames exactly as handed to the video
 * encoder, in a raw file ({@link RawFrames}), and the sampler's final latents.
 *
 * @param frames  raw RGB24 frames, {@code count} × height × width × 3 bytes
 * @param latents final normalised latents [C, T, h, w], flattened
 */
public record CapturedRender(Path frames, int width, int height, int count, float[] latents) {
    public CapturedRender {
        Objects.requireNonNull(frames, "frames is null");
        Objects.requireNonNull(latents, "latents is null");
        if (width < 1 || height < 1 || count < 0) {
            throw new IllegalArgumentException("Invalid captured render " + frames + ": " + width + "x" + height
                    + ", " + count + " frames");
        }
    }
}
