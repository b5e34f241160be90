package io.sparserender.engine.weights;

import java.nio.file.Path;

/**
 * The check that model weights hold only finite numbers: a NaN or infinite weight turns every clip
 * into NaN, so it is refused when the model loads, naming the file, the tensor and where in it. One
 * linear pass over values already decoded to float32 (a small fraction of the load time).
 */
public final class FiniteScan {
    private FiniteScan() {}

    /** The first non-finite element of {@code values}, or -1 when all are finite. */
    public static long firstNonFinite(float[] values) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                return i;
            }
        }
        return -1;
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
