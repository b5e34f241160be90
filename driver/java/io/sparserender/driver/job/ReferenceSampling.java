package io.sparserender.driver.job;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Which clips {@code --reference-fraction f} re-renders with dense attention: clip c is sampled when
 * u(c) &lt; f, where u(c) in [0, 1) is the first 53 bits of SHA-256("sparse-render reference\n" + clip id) as a
 * fraction. A pure function of the clip id, so the driver (planning) and the executor (rendering) agree, and
 * a clip is sampled or not the same way on every run and machine; sets are nested (what f samples, any larger
 * f samples too); f = 0 samples nothing and f = 1 everything.
 */
public final class ReferenceSampling {
    private static final String SALT = "sparse-render reference\n";

    private ReferenceSampling() {}

    /** Throws naming the flag unless 0 ≤ f ≤ 1. */
    public static double checkFraction(double f) {
        if (!(f >= 0 && f <= 1)) {
            throw new IllegalArgumentException("Invalid --reference-fraction " + f + ": must be in [0, 1]");
        }
        return f;
    }

    public static boolean sampled(String clipId, double fraction) {
        return position(clipId) < checkFraction(fraction);
    }

    /** u(c) in [0, 1). */
    static double position(String clipId) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest((SALT + clipId).getBytes(StandardCharsets.UTF_8));
            long bits = 0;
            for (int i = 0; i < 8; i++) {
                bits = (bits << 8) | (h[i] & 0xff);
            }
            return (bits >>> 11) * 0x1.0p-53;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }
}
