package io.sparserender.engine.video;

import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.vae.WanVaeConfig;
import io.sparserender.engine.vae.WanVaeDecoder;
import io.sparserender.engine.vae.WanVaeLatents;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The last step of a clip: de-normalise the sampler's latents, decode them chunk by chunk and encode each chunk's
 * frames as soon as it is ready, so neither the decoder nor the writer holds more than one chunk of frames.
 */
public final class LatentsToMp4 {
    private LatentsToMp4() {}

    /**
     * Writes one sample's normalised latents z [zDim, T, h, w] (as the sampler produces them) to {@code target}
     * at the given frame rate; returns the number of frames written (1 + 4·(T − 1)).
     */
    public static <T> long write(Ops<T> ops, WanVaeDecoder<T> decoder, T latents, Path target, int fps) {
        return write(ops, decoder, latents, target, fps, null);
    }

    /**
     * As above, and hands every frame, as the packed RGB24 bytes given to the encoder, to {@code frames} (when
     * not null) in order; the array is reused for the next frame, so copy or write it out before returning.
     */
    public static <T> long write(Ops<T> ops, WanVaeDecoder<T> decoder, T latents, Path target, int fps,
                                 Consumer<byte[]> frames) {
        WanVaeConfig cfg = decoder.config();
        int[] s = ops.shape(latents);
        if (s.length != 4) {
            throw new IllegalArgumentException("Cannot write latents " + Arrays.toString(s) + " to " + target
                    + ": expected one sample [" + cfg.zDim() + ", T, h, w]");
        }
        int width = s[3] * cfg.spatialFactor();
        int height = s[2] * cfg.spatialFactor();
        T z = WanVaeLatents.denormalize(ops, latents, cfg);
        try (Mp4Writer w = Mp4Writer.open(target, width, height, Mp4Settings.forVideo(width, height, fps))) {
            try {
                byte[] rgb = new byte[width * height * 3];
                decoder.decode(z, chunk -> {
                    Tensor host = ops.toHost(chunk);
                    ops.release(chunk);
                    if (frames == null) {
                        w.write(host);
                        return;
                    }
                    for (int t = 0; t < host.dim(1); t++) {
                        FrameConversion.toRgb24(host, t, rgb);
                        w.writeRgb24(rgb);
                        frames.accept(rgb);
                    }
                });
            } catch (RuntimeException e) {
                w.abort();
                throw e;
            }
            ops.release(z);
            return w.framesWritten();
        }
    }
}
