package io.sparserender.engine.tensor;

import java.util.stream.IntStream;

/**
 * Element-wise loops over large arrays split into chunks on the common fork-join pool. Each element is computed by the
 * same arithmetic whatever the split, so the results are bit-identical to the sequential loop; only loops whose
 * elements are independent may use it. Below {@link #PARALLEL_MIN} elements the loop runs on the calling thread.
 */
public final class ElementChunks {
    /** Elements per chunk: 64 Ki (512 KiB of doubles). */
    public static final int CHUNK = 1 << 16;
    /** Arrays shorter than this run sequentially (4 chunks). */
    public static final int PARALLEL_MIN = 4 * CHUNK;

    /** The body of one chunk: elements [from, to). */
    @FunctionalInterface
    public interface Body {
        void run(int from, int to);
    }

    private ElementChunks() {}

    /** Runs {@code body} over [0, n), in chunks of {@link #CHUNK} in parallel when n ≥ {@link #PARALLEL_MIN}. */
    public static void forEach(int n, Body body) {
        if (n < PARALLEL_MIN) {
            body.run(0, n);
            return;
        }
        IntStream.range(0, (n + CHUNK - 1) / CHUNK).parallel()
                .forEach(c -> body.run(c * CHUNK, Math.min(n, (c + 1) * CHUNK)));
    }
}
