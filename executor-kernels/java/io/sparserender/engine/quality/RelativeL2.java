package io.sparserender.engine.quality;

/** Relative L2 error ‖x − ref‖₂ / ‖ref‖₂ in double precision: 0 for equal vectors, +∞ for a zero ref and x ≠ ref. */
public final class RelativeL2 {
    private RelativeL2() {}

    public static double of(float[] x, float[] ref) {
        if (x.length != ref.length) {
            throw new IllegalArgumentException("Cannot compare vectors of " + x.length + " and " + ref.length + " values");
        }
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < x.length; i++) {
            double d = (double) x[i] - ref[i];
            diff += d * d;
            norm += (double) ref[i] * ref[i];
        }
        if (diff == 0) {
            return 0;
        }
        return norm == 0 ? Double.POSITIVE_INFINITY : Math.sqrt(diff / norm);
    }
}
