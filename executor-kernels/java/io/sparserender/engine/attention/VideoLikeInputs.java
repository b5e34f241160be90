package io.sparserender.engine.attention;

import io.sparserender.engine.tensor.Tensor;
import java.util.Random;
import java.util.SplittableRandom;

/**
 * Attention inputs for tests and studies, from seeds.
 *
 * <p>{@link #videoLike}: per (batch, head) a unit content vector u shared by q and k, so that before
 * rotation every token looks alike, plus per-token noise; both are rotated by Wan's 3D RoPE at the
 * token's (frame, row, column). Then q_i · k_j / √D = peak · Σ_pairs |u_p|² cos(ω_p · Δpos) + noise,
 * which is largest at Δpos = 0 and falls off with distance in time and space: attention is local, as in
 * a video DiT. Knobs:
 * <ul>
 *   <li>{@code peak}: the content score of a token with itself, in nats (how peaked attention is);
 *   <li>{@code noise}: the standard deviation, in nats, of the token-to-token noise in scores (q and k
 *       get i.i.d. N(0, noise) per component before rotation);
 *   <li>{@code sinks}: that many tokens (positions drawn from the seed) are global sinks: their k gets
 *       β·g and every q gets β·g after rotation (g a unit vector per head, β² / √D = {@code sinkLogit}),
 *       so every query scores them about {@code sinkLogit} nats higher regardless of position.
 * </ul>
 * v is i.i.d. N(0, 1). {@link #random} is the other extreme: q, k, v i.i.d. Gaussian.
 */
public final class VideoLikeInputs {
    private VideoLikeInputs() {}

    /** Knobs of {@link #videoLike}; {@link #defaults()} gives peak 8, noise 1, 4 sinks at 6 nats. */
    public record Knobs(double peak, double tilt, double noise, int sinks, double sinkLogit) {
        public Knobs {
            if (!(peak >= 0) || !(tilt >= 0) || !(noise >= 0) || sinks < 0 || !(sinkLogit >= 0)) {
                throw new IllegalArgumentException("Invalid video-like knobs: peak, tilt, noise, sinks, sinkLogit must be >= 0");
            }
        }

        public static Knobs defaults() {
            return new Knobs(DEFAULT_PEAK, 1, 1, 4, DEFAULT_PEAK / 2);
        }

        public Knobs withPeak(double p) {
            return new Knobs(p, tilt, noise, sinks, sinkLogit);
        }

        public Knobs withTilt(double t) {
            return new Knobs(peak, t, noise, sinks, sinkLogit);
        }
    }

    public static final double DEFAULT_PEAK = 16;

    public static QkvInput videoLike(int batch, VideoGrid grid, int heads, int headDim, Knobs knobs, long seed) {
        int seqLen = grid.tokens();
        Rope3d rope = new Rope3d(headDim);
        float[] q = new float[batch * seqLen * heads * headDim];
        float[] k = new float[q.length];
        float[] v = new float[q.length];
        double a = Math.sqrt(knobs.peak() * Math.sqrt(headDim));
        double sigma = Math.sqrt(knobs.noise());
        double beta = Math.sqrt(knobs.sinkLogit() * Math.sqrt(headDim));
        SplittableRandom root = new SplittableRandom(seed);
        double[] xq = new double[headDim];
        double[] xk = new double[headDim];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                Random rnd = new Random(root.nextLong());
                double[] u = new double[headDim];
                for (int d = 0; d < headDim; d++) {
                    u[d] = rnd.nextGaussian() * Math.pow(rope.frequency(d / 2), knobs.tilt() / 2);
                }
                normalize(u);
                double[] g = unit(rnd, headDim);
                boolean[] sink = new boolean[seqLen];
                for (int s = 0; s < Math.min(knobs.sinks(), seqLen); s++) {
                    int at;
                    do {
                        at = rnd.nextInt(seqLen);
                    } while (sink[at]);
                    sink[at] = true;
                }
                for (int i = 0; i < seqLen; i++) {
                    for (int d = 0; d < headDim; d++) {
                        xq[d] = a * u[d] + sigma * rnd.nextGaussian();
                        xk[d] = a * u[d] + sigma * rnd.nextGaussian();
                    }
                    int f = grid.frameOf(i);
                    int r = grid.rowOf(i);
                    int c = grid.colOf(i);
                    rope.apply(xq, f, r, c);
                    rope.apply(xk, f, r, c);
                    int off = ((b * seqLen + i) * heads + h) * headDim;
                    for (int d = 0; d < headDim; d++) {
                        q[off + d] = (float) (xq[d] + beta * g[d]);
                        k[off + d] = (float) (xk[d] + (sink[i] ? beta * g[d] : 0));
                        v[off + d] = (float) rnd.nextGaussian();
                    }
                }
            }
        }
        int[] shape = {batch, seqLen, heads, headDim};
        return new QkvInput(new Tensor(q, shape), new Tensor(k, shape), new Tensor(v, shape));
    }

    /** q, k, v i.i.d. N(0, std²) (v: N(0, 1)); scores have standard deviation std² in nats. */
    public static QkvInput random(int batch, int seqLen, int heads, int headDim, double std, long seed) {
        Random rnd = new Random(seed);
        int n = batch * seqLen * heads * headDim;
        float[] q = new float[n];
        float[] k = new float[n];
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            q[i] = (float) (std * rnd.nextGaussian());
            k[i] = (float) (std * rnd.nextGaussian());
            v[i] = (float) rnd.nextGaussian();
        }
        int[] shape = {batch, seqLen, heads, headDim};
        return new QkvInput(new Tensor(q, shape), new Tensor(k, shape), new Tensor(v, shape));
    }

    /**
     * A copy of {@code in} with q and k moved by eps · rms · N(0, 1) per element (v unchanged): a stand-in
     * for the same layer's inputs at the previous denoising step, for studies of previous-step predictors.
     */
    public static QkvInput perturbed(QkvInput in, double eps, long seed) {
        Random rnd = new Random(seed);
        return new QkvInput(jitter(in.q(), eps, rnd), jitter(in.k(), eps, rnd), in.v());
    }

    private static Tensor jitter(Tensor t, double eps, Random rnd) {
        float[] a = t.data();
        double sq = 0;
        for (float x : a) {
            sq += (double) x * x;
        }
        double step = eps * Math.sqrt(sq / a.length);
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (float) (a[i] + step * rnd.nextGaussian());
        }
        return new Tensor(out, t.shape());
    }

    private static double[] unit(Random rnd, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextGaussian();
        }
        normalize(x);
        return x;
    }

    private static void normalize(double[] x) {
        double norm = 0;
        for (double e : x) {
            norm += e * e;
        }
        norm = Math.sqrt(norm);
        for (int i = 0; i < x.length; i++) {
            x[i] /= norm;
        }
    }
}
