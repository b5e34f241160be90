package io.sparserender.engine.weights;

import java.nio.file.Path;

/**
 * The check that model weights hold only finite numbers: a NaN or infinite weight turns every clip
 * into NaN, so it is refused when the model loads, naming the file, the tensor and where in it. One
 * linear pass over values already decoded to float32 (a small fraction of the load time).
 */
public final class FiniteScan {
    private FiniteScan() {}

    /** The first non-finite element of {@code values}, or -1 when all are finite (chunks scanned on all cores). */
    public static long firstNonFinite(float[] values) {
        java.util.concurrent.atomic.AtomicInteger first = new java.util.concurrent.atomic.AtomicInteger(Integer.MAX_VALUE);
        io.sparserender.engine.tensor.ElementChunks.forEach(values.length, (from, to) -> {
            for (int i = from; i < to; i++) {
                if (!Float.isFinite(values[i])) {
                    first.accumulateAndGet(i, Math::min);
                    return;
                }
            }
        });
        return first.get() == Integer.MAX_VALUE ? -1 : first.get();
    }

    /** Throws a {@link WeightsException} naming file, tensor, the first bad element and the count of bad elements. */
    public static void requireFinite(float[] values, Path file, String tensor) {
        long first = firstNonFinite(values);
        if (first >= 0) {
            throw nonFinite(file, tensor, first, values[(int) first], count(values, (int) first), values.length);
        }
    }

    static WeightsException nonFinite(Path file, String tensor, long first, float value, long bad, long total) {
        return new WeightsException("Invalid weights in " + file + ": tensor '" + tensor + "' holds " + value
                + " at element " + first + " (" + bad + " of " + total + " values are NaN or infinite)");
    }

    private static long count(float[] values, int from) {
        long n = 0;
        for (int i = from; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                n++;
            }
        }
        return n;
    }
}
