package io.sparserender.engine.sampler;

import io.sparserender.engine.tensor.Tensor;

/**
 * The initial latent noise of a clip: standard normals from Philox4x32-10 keyed by the clip seed, the
 * same on every machine and every retry (pure Java, {@link StrictMath}: bit-identical on any JVM).
 *
 * <p>Exact definition, for a twin in another language. Element e (row-major index over the latent
 * shape) of stream s:
 * <ol>
 *   <li>block n = ⌊e / 4⌋, lane j = e mod 4; key = (k0, k1) = (low 32 bits of seed, high 32 bits of seed);
 *       counter = (low 32 bits of n, high 32 bits of n, s, 0); (x0, x1, x2, x3) = Philox4x32-10(counter, key);
 *   <li>uniforms u(x) = (x + 0.5) / 2^32 in (0, 1) for each word x read as unsigned;
 *   <li>Box–Muller per pair: lanes 0, 1 from (x0, x1), lanes 2, 3 from (x2, x3):
 *       r = √(−2·ln u(first)), θ = 2π·u(second); lane 0/2 = r·cos θ, lane 1/3 = r·sin θ,
 *       in float64 with fdlibm's log, sqrt, cos, sin (Java's StrictMath);
 *   <li>the float32 tensor holds each value rounded to nearest.
 * </ol>
 * Stream 0 is the initial latent noise; other streams are free for later uses of the same seed.
 */
public final class NoiseGenerator {
    private static final double TWO_POW_MINUS_32 = 0x1.0p-32;

    private NoiseGenerator() {}

    /** Standard normal noise of the given shape for {@code seed}, stream 0. */
    public static Tensor normal(long seed, int... shape) {
        return normalStream(seed, 0, shape);
    }

    public static Tensor normalStream(long seed, int stream, int... shape) {
        long n = Tensor.numel(shape);
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("Cannot generate noise of " + n + " elements in one tensor");
        }
        // in parallel chunks: any slice of the stream equals the whole's slice, so the result does not depend on the split
        // (a 5B clip's 5.2 M values took ≈ 0.3 s of the render thread in one piece)
        float[] f = new float[(int) n];
        io.sparserender.engine.tensor.ElementChunks.forEach(f.length, (from, to) -> {
            double[] d = normals(seed, stream, from, to - from);
            for (int i = 0; i < d.length; i++) {
                f[from + i] = (float) d[i];
            }
        });
        return new Tensor(f, shape);
    }

    /** Elements {@code [first, first + count)} of the stream in float64 (any slice equals the whole's slice). */
    public static double[] normals(long seed, int stream, long first, int count) {
        int k0 = (int) seed;
        int k1 = (int) (seed >>> 32);
        double[] out = new double[count];
        int[] words = new int[4];
        double[] lanes = new double[4];
        long block = -1;
        for (int i = 0; i < count; i++) {
            long e = first + i;
            long b = e >>> 2;
            if (b != block) {
                Philox4x32.block((int) b, (int) (b >>> 32), stream, 0, k0, k1, words);
                boxMuller(words[0], words[1], lanes, 0);
                boxMuller(words[2], words[3], lanes, 2);
                block = b;
            }
            out[i] = lanes[(int) (e & 3)];
        }
        return out;
    }

    private static void boxMuller(int a, int b, double[] out, int at) {
        double u1 = uniform(a);
        double u2 = uniform(b);
        double r = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
        double theta = 2.0 * Math.PI * u2;
        out[at] = r * StrictMath.cos(theta);
        out[at + 1] = r * StrictMath.sin(theta);
    }

    /** (x + 0.5)·2^-32 for the unsigned word x: strictly inside (0, 1), exact in float64. */
    static double uniform(int word) {
        return ((word & 0xFFFFFFFFL) + 0.5) * TWO_POW_MINUS_32;
    }
}
