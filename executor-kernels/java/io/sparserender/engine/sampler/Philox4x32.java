package io.sparserender.engine.sampler;

/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), the
 * counter-based generator of Random123, cuRAND and JAX: a pure function of a 128-bit counter and a
 * 64-bit key. One round, with M0 = 0xD2511F53, M1 = 0xCD9E8D57:
 * (hi0, lo0) = M0 · c0 and (hi1, lo1) = M1 · c2 as 64-bit products; c = (hi1 ⊕ c1 ⊕ k0, lo1, hi0 ⊕ c3 ⊕ k1, lo0);
 * between rounds the key gains the Weyl constants (k0 += 0x9E3779B9, k1 += 0xBB67AE85). Ten rounds.
 * All words are unsigned 32-bit, held in Java ints.
 */
public final class Philox4x32 {
    private static final long M0 = 0xD2511F53L;
    private static final long M1 = 0xCD9E8D57L;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;

    private Philox4x32() {}

    /** Writes the 4 output words for {@code counter} (4 words) and {@code key} (2 words) into {@code out}. */
    public static void block(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
        for (int round = 0; round < 10; round++) {
            long p0 = M0 * (c0 & 0xFFFFFFFFL);
            long p1 = M1 * (c2 & 0xFFFFFFFFL);
            int hi0 = (int) (p0 >>> 32);
            int lo0 = (int) p0;
            int hi1 = (int) (p1 >>> 32);
            int lo1 = (int) p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
            k0 += W0;
            k1 += W1;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }
}
