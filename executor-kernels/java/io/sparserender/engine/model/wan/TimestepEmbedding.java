package io.sparserender.engine.model.wan;

import io.sparserender.engine.tensor.Tensor;
import java.util.Arrays;

/**
 * Timesteps as the DiT takes them: one per sample ({@code [B]}) or one per token ({@code [B, L]}, the
 * Wan 2.2 TI2V form), and their sinusoidal embedding (cos half first, then sin, frequencies
 * 10000^(−i/half)), computed in double on the host as the original Wan code does in float64.
 */
public final class TimestepEmbedding {
    private TimestepEmbedding() {}

    /**
     * The sinusoid of each value: [n, freqDim] for n values.
     */
    public static Tensor sinusoid(double[] t, int freqDim) {
        int half = freqDim / 2;
        double[] freq = new double[half];
        for (int i = 0; i < half; i++) {
            freq[i] = Math.pow(10000.0, -(double) i / half);
        }
        float[] out = new float[t.length * freqDim];
        for (int r = 0; r < t.length; r++) {
            for (int i = 0; i < half; i++) {
                double a = t[r] * freq[i];
                out[r * freqDim + i] = (float) Math.cos(a);
                out[r * freqDim + half + i] = (float) Math.sin(a);
            }
        }
        return new Tensor(out, t.length, freqDim);
    }

    /**
     * Timesteps of one forward, validated against the batch and token count.
     *
     * @param values    {@code batch × perSample} values, row-major
     * @param perSample 1 (one timestep per sample) or L (one per token)
     */
    public record Timesteps(double[] values, int batch, int perSample) {
        public Timesteps {
            values = values.clone();
            if (values.length != batch * perSample) {
                throw new IllegalArgumentException("Invalid timesteps: " + values.length + " values for batch " + batch
                        + " × " + perSample);
            }
        }

        @Override
        public double[] values() {
            return values.clone();
        }

        /** From a host tensor [B] or [B, L]. */
        public static Timesteps of(Tensor t) {
            double[] v = new double[t.numel()];
            for (int i = 0; i < v.length; i++) {
                v[i] = t.data()[i];
            }
            return switch (t.rank()) {
                case 1 -> new Timesteps(v, t.dim(0), 1);
                case 2 -> new Timesteps(v, t.dim(0), t.dim(1));
                default -> throw new IllegalArgumentException("Invalid timestep tensor " + t + ": expected [B] or [B, L]");
            };
        }

        /** The same value for every sample. */
        public static Timesteps uniform(int batch, double t) {
            double[] v = new double[batch];
            Arrays.fill(v, t);
            return new Timesteps(v, batch, 1);
        }

        /** Whether every sample has one value for all its tokens. */
        public boolean constantPerSample() {
            for (int b = 0; b < batch; b++) {
                for (int i = 1; i < perSample; i++) {
                    if (values[b * perSample + i] != values[b * perSample]) {
                        return false;
                    }
                }
            }
            return true;
        }

        /** One value per sample (requires {@link #constantPerSample()}). */
        public Timesteps collapsed() {
            if (perSample == 1) {
                return this;
            }
            if (!constantPerSample()) {
                throw new IllegalStateException("Cannot collapse per-token timesteps that differ within a sample");
            }
            double[] v = new double[batch];
            for (int b = 0; b < batch; b++) {
                v[b] = values[b * perSample];
            }
            return new Timesteps(v, batch, 1);
        }
    }
}
