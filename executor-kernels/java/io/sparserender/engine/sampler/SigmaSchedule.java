package io.sparserender.engine.sampler;

import java.util.Arrays;

/**
 * The noise levels of one flow-matching sampling run: {@code sigmas} holds N + 1 values from the
 * first (near 1) down to the final 0, {@code timesteps} the N integer timesteps the DiT receives.
 *
 * <p>The flow-matching noise level σ mixes x_σ = (1 − σ)·x0 + σ·noise; the DiT predicts the flow
 * v = noise − x0. Every grid here is shifted by σ' = s·σ / (1 + (s − 1)·σ).
 *
 * <p>Real runs use {@link #wanOfficial}, the grid of Wan 2.2's own {@code FlowUniPCMultistepScheduler}
 * ({@code wan/utils/fm_solvers_unipc.py}); {@link #diffusersFlow} reproduces diffusers'
 * {@code UniPCMultistepScheduler(use_flow_sigmas=True)} for comparisons with diffusers outputs.
 */
public record SigmaSchedule(double[] sigmas, long[] timesteps) {
    /** The train-time timestep range the DiT was trained on. */
    public static final int NUM_TRAIN_TIMESTEPS = 1000;

    /**
     * Wan's σ_max: 1 − 1/1000 stored in float32 by the reference scheduler's constructor
     * ({@code sigmas.to(float32)}, then {@code .item()}), i.e. 0.9990000128746033.
     */
    static final double WAN_SIGMA_MAX = (double) (float) 0.999;

    public SigmaSchedule {
        sigmas = sigmas.clone();
        timesteps = timesteps.clone();
        if (sigmas.length != timesteps.length + 1 || timesteps.length == 0) {
            throw new IllegalArgumentException("Invalid sigma schedule: " + sigmas.length + " sigmas for "
                    + timesteps.length + " timesteps (expected N + 1 sigmas for N ≥ 1 steps)");
        }
        for (int i = 0; i < sigmas.length; i++) {
            if (!(sigmas[i] >= 0 && sigmas[i] < 1) || i > 0 && !(sigmas[i] < sigmas[i - 1])) {
                throw new IllegalArgumentException("Invalid sigma schedule: sigma[" + i + "] = " + sigmas[i]
                        + " (sigmas must fall strictly inside [0, 1))");
            }
        }
        if (sigmas[sigmas.length - 1] != 0) {
            throw new IllegalArgumentException("Invalid sigma schedule: last sigma is "
                    + sigmas[sigmas.length - 1] + ", expected 0");
        }
    }

    /**
     * The official Wan 2.2 grid: σ_i = linspace(σ_max, 0, N + 1)[i] for i &lt; N with σ_max = float32(0.999),
     * shifted in float64; timestep_i = (long) (σ'_i · 1000) (numpy's float64 → int64 cast, which truncates,
     * i.e. ⌊σ'·1000⌋ for these positive values); the sigmas used by the update are then rounded to
     * float32, as the reference stores them ({@code .astype(np.float32)}), followed by a final 0.
     */
    public static SigmaSchedule wanOfficial(int steps, double shift) {
        checkSteps(steps, shift);
        double[] grid = new double[steps];
        for (int i = 0; i < steps; i++) {
            grid[i] = linspace(WAN_SIGMA_MAX, 0.0, steps + 1, i);
        }
        return fromUnshifted(grid, shift);
    }

    /**
     * diffusers' flow grid: linspace(1, 1/1000, N + 1)[:-1], shifted, then σ'_0 −= 1e-6 when it is within
     * 1e-6 of 1 (diffusers avoids log(0) that way); timesteps and float32 rounding as in {@link #wanOfficial}.
     */
    public static SigmaSchedule diffusersFlow(int steps, double shift) {
        checkSteps(steps, shift);
        double[] shifted = new double[steps];
        for (int i = 0; i < steps; i++) {
            shifted[i] = shift(linspace(1.0, 1.0 / NUM_TRAIN_TIMESTEPS, steps + 1, i), shift);
        }
        if (Math.abs(shifted[0] - 1) < 1e-6) {
            shifted[0] -= 1e-6;
        }
        return fromShifted(shifted);
    }

    /** Builds a schedule from unshifted σ values (without the final 0). */
    public static SigmaSchedule fromUnshifted(double[] sigmas, double shift) {
        double[] shifted = new double[sigmas.length];
        for (int i = 0; i < sigmas.length; i++) {
            shifted[i] = shift(sigmas[i], shift);
        }
        return fromShifted(shifted);
    }

    private static SigmaSchedule fromShifted(double[] shifted) {
        int n = shifted.length;
        double[] sig = new double[n + 1];
        long[] ts = new long[n];
        for (int i = 0; i < n; i++) {
            ts[i] = (long) (shifted[i] * NUM_TRAIN_TIMESTEPS);
            sig[i] = (float) shifted[i];
        }
        return new SigmaSchedule(sig, ts);
    }

    /** σ' = s·σ / (1 + (s − 1)·σ), in float64. */
    public static double shift(double sigma, double s) {
        return s * sigma / (1 + (s - 1) * sigma);
    }

    /** numpy's linspace element i: start + i·step, with the last element exactly {@code stop}. */
    static double linspace(double start, double stop, int num, int i) {
        if (i == num - 1) {
            return stop;
        }
        double step = (stop - start) / (num - 1);
        return start + i * step;
    }

    private static void checkSteps(int steps, double shift) {
        if (steps < 1) {
            throw new IllegalArgumentException("Invalid number of sampling steps: " + steps);
        }
        if (!(shift > 0) || Double.isInfinite(shift)) {
            throw new IllegalArgumentException("Invalid sigma shift: " + shift);
        }
    }

    public int steps() {
        return timesteps.length;
    }

    @Override
    public double[] sigmas() {
        return sigmas.clone();
    }

    @Override
    public long[] timesteps() {
        return timesteps.clone();
    }

    public double sigma(int i) {
        return sigmas[i];
    }

    public long timestep(int i) {
        return timesteps[i];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SigmaSchedule s && Arrays.equals(sigmas, s.sigmas) && Arrays.equals(timesteps, s.timesteps);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(sigmas) + Arrays.hashCode(timesteps);
    }

    @Override
    public String toString() {
        return "SigmaSchedule" + Arrays.toString(timesteps);
    }
}
