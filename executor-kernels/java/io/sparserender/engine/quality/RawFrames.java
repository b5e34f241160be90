package io.sparserender.engine.quality;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * A local scratch file of raw packed RGB24 frames, one after another, so that a clip's frames can be compared
 * with another render's without holding either video in memory (a 1280×704 clip of 121 frames is 327 MB).
 */
public final class RawFrames {
    private RawFrames() {}

    /** Appends frames of {@code width × height} to a new file. */
    public static final class Writer implements Consumer<byte[]>, AutoCloseable {
        private final Path file;
        private final int frameBytes;
        private final OutputStream out;
        private int count;

        public Writer(Path file, int width, int height) {
            this.file = file;
            this.frameBytes = width * height * 3;
            try {
                this.out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20);
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot create frame file " + file + ": " + e.getMessage(), e);
            }
        }

        @Override
        public void accept(byte[] frame) {
            if (frame.length != frameBytes) {
                throw new IllegalArgumentException("Cannot append a frame of " + frame.length + " bytes to " + file
                        + ": expected " + frameBytes);
            }
            try {
                out.write(frame);
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot write frame file " + file + ": " + e.getMessage(), e);
            }
            count++;
        }

        public int count() {
            return count;
        }

        @Override
        public void close() {
            try {
                out.close();
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot write frame file " + file + ": " + e.getMessage(), e);
            }
        }
    }

    /** Reads frames of {@code width × height} back in order. */
    public static final class Reader implements AutoCloseable {
        private final Path file;
        private final InputStream in;
        private final int frameBytes;

        public Reader(Path file, int width, int height) {
            this.file = file;
            this.frameBytes = width * height * 3;
            try {
                this.in = Files.newInputStream(file);
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot open frame file " + file + ": " + e.getMessage(), e);
            }
        }

        /** The next frame; fails when the file ends early. */
        public byte[] next() {
            try {
                byte[] f = in.readNBytes(frameBytes);
                if (f.length != frameBytes) {
                    throw new IllegalStateException("Cannot read a frame from " + file + ": it ends after "
                            + f.length + " of " + frameBytes + " bytes");
                }
                return f;
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot read frame file " + file + ": " + e.getMessage(), e);
            }
        }

        @Override
        public void close() {
            try {
                in.close();
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot close frame file " + file + ": " + e.getMessage(), e);
            }
        }
    }
}
