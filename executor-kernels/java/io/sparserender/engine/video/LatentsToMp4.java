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
 * frames on another thread while the next chunk decodes, so the host holds at most two chunks of frames and the
 * device does not wait for the encoder.
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
        try (Mp4Writer w = Mp4Writer.open(target, width, height, Mp4Settings.forVideo(width, height, fps));
             OverlappedEncoder encoder = new OverlappedEncoder(w, target, frames, width, height)) {
            try {
                decoder.decode(z, chunk -> {
                    Tensor host = ops.toHost(chunk);
                    ops.release(chunk);
                    encoder.submit(host); // encoded while the device decodes the next chunk
                });
                encoder.finish();
            } catch (RuntimeException | Error e) { // an Error too (out of memory): closing the writer would publish the file
                encoder.cancel();
                w.abort();
                throw e;
            }
            ops.release(z);
            return w.framesWritten();
        }
    }

    /**
     * Encodes decoded chunks on a thread of its own, one chunk at a time in order, so the device decodes chunk i + 1
     * while chunk i is converted and encoded: at most two chunks of frames are on the host (the one encoding and the
     * one just copied down). An encoder failure is rethrown by the next {@link #submit} or by {@link #finish}.
     */
    private static final class OverlappedEncoder implements AutoCloseable {
        private final Mp4Writer writer;
        private final Path target;
        private final Consumer<byte[]> frames;
        private final byte[] rgb;
        private final java.util.concurrent.ExecutorService thread = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "mp4-encoder");
            t.setDaemon(true);
            return t;
        });
        private java.util.concurrent.Future<?> pending;

        OverlappedEncoder(Mp4Writer writer, Path target, Consumer<byte[]> frames, int width, int height) {
            this.writer = writer;
            this.target = target;
            this.frames = frames;
            this.rgb = frames == null ? null : new byte[width * height * 3];
        }

        void submit(Tensor chunk) {
            awaitPending();
            pending = thread.submit(() -> encode(chunk));
        }

        private void encode(Tensor chunk) {
            if (frames == null) {
                writer.write(chunk);
                return;
            }
            for (int t = 0; t < chunk.dim(1); t++) {
                FrameConversion.toRgb24(chunk, t, rgb);
                writer.writeRgb24(rgb);
                frames.accept(rgb);
            }
        }

        /** Waits for every submitted chunk to be encoded. */
        void finish() {
            awaitPending();
        }

        /** Stops after the chunk being encoded, if any (the file is aborted by the caller). */
        void cancel() {
            if (pending != null) {
                pending.cancel(false);
                try {
                    pending.get();
                } catch (Exception ignored) {
                    // the decode's own failure is the one reported
                }
                pending = null;
            }
        }

        private void awaitPending() {
            if (pending == null) {
                return;
            }
            try {
                pending.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new VideoException("Interrupted while encoding " + target, e);
            } catch (java.util.concurrent.ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException re) {
                    throw re;
                }
                if (cause instanceof Error err) {
                    throw err;
                }
                throw new VideoException("Cannot encode " + target + ": " + cause, cause);
            } finally {
                pending = null;
            }
        }

        @Override
        public void close() {
            thread.shutdownNow();
        }
    }
}
