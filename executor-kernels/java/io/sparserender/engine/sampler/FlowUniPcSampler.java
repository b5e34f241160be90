package io.sparserender.engine.sampler;

import io.sparserender.engine.tensor.ElementChunks;
import io.sparserender.engine.tensor.Tensor;
import java.util.Arrays;

/**
 * Flow-matching UniPC (Zhao et al. 2023), the sampler of Wan 2.2: multistep predictor UniP and
 * corrector UniC, "bh2" variant, on the data prediction x0. One instance samples one clip; call
 * {@link #step} once per timestep of its {@link SigmaSchedule}, in order.
 *
 * <p>The rule, per step i with σ_i = sigma(i), x the current sample and v the model's flow output:
 * <ol>
 *   <li>x0_i = x − σ_i·v (data prediction from the flow);
 *   <li>from the second step on, the corrector UniC replaces x by a corrected sample using x0_i, the
 *       previous sample and the previous data predictions, at the order the previous predictor used;
 *   <li>the predictor UniP gives the sample at σ_{i+1} at order min(solverOrder, N − i, steps done + 1)
 *       (warm-up on the first step, "lower_order_final" on the last).
 * </ol>
 * With α = 1 − σ and λ = ln α − ln σ, h = λ_{i+1} − λ_i, the predictor is
 * x_{i+1} = (σ_{i+1}/σ_i)·x − α_{i+1}·(e^{−h} − 1)·x0_i − α_{i+1}·B(h)·Σ_k ρ_k·D_k with B(h) = e^{−h} − 1 (bh2),
 * D_k = (x0_{i−k} − x0_i)/r_k, r_k = (λ_{i−k} − λ_i)/h and ρ = ½ at order 2 (the general order solves
 * the UniPC moment system). The corrector uses the same formula from step i−1 to i with the model output
 * at step i added as the last difference. This is {@code multistep_uni_p_bh_update} /
 * {@code multistep_uni_c_bh_update} of Wan's {@code fm_solvers_unipc.py} (and diffusers'), with
 * {@code predict_x0=True}, {@code solver_type="bh2"}, {@code lower_order_final=True}, no disabled
 * corrector steps.
 *
 * <p>Samples, data predictions and every per-element operation are float64; {@link #step(Tensor, Tensor)}
 * accepts and returns float32 tensors for the pipeline and keeps its own state in float64. The scalar
 * step coefficients (σ ratios, λ, h, φ functions, r_k, the ρ solve) follow {@link CoefficientPrecision}:
 * by default they are rounded to float32 after every operation, exactly as the reference computes them
 * (its {@code sigmas} tensor is float32, so every 0-d coefficient is float32 while the samples stay in
 * their own dtype); {@link CoefficientPrecision#FLOAT64} keeps them in float64 (differs from the reference
 * by up to ~2e-7 relative over the 20 fixture steps).
 */
public final class FlowUniPcSampler {
    private final SigmaSchedule schedule;
    private final int solverOrder;
    private final CoefficientPrecision precision;
    private final double[] sigmas;
    /** Data predictions of the last {@code solverOrder} steps, oldest first; null until filled. */
    private final double[][] x0History;
    private double[] lastSample;
    private int lastOrder;
    private int lowerOrderSteps;
    private int stepIndex;

    /** Order 2, coefficients like the reference (float32): the Wan 2.2 sampler. */
    public FlowUniPcSampler(SigmaSchedule schedule) {
        this(schedule, 2, CoefficientPrecision.REFERENCE_FLOAT32);
    }

    public FlowUniPcSampler(SigmaSchedule schedule, int solverOrder, CoefficientPrecision precision) {
        this.precision = java.util.Objects.requireNonNull(precision, "precision is null");
        if (solverOrder < 1 || solverOrder > 3) {
            throw new IllegalArgumentException("Invalid UniPC solver order " + solverOrder + " (supported: 1 to 3)");
        }
        this.schedule = schedule;
        this.solverOrder = solverOrder;
        this.sigmas = schedule.sigmas();
        this.x0History = new double[solverOrder][];
    }

    public SigmaSchedule schedule() {
        return schedule;
    }

    /** The index of the next step (0 before the first). */
    public int stepIndex() {
        return stepIndex;
    }

    public boolean done() {
        return stepIndex == schedule.steps();
    }

    /** The integer timestep the model must be run at for the next step. */
    public long nextTimestep() {
        checkNotDone();
        return schedule.timestep(stepIndex);
    }

    /**
     * One sampling step in float64: {@code flow} is the (guided) model output v at the current timestep for
     * {@code sample}; returns the sample at the next noise level. Neither argument is modified.
     */
    public double[] step(double[] flow, double[] sample) {
        checkSizes(flow.length, sample.length);
        double sigma = precision.round(sigmas[stepIndex]);
        double[] x0 = new double[sample.length];
        ElementChunks.forEach(x0.length, (from, to) -> {
            for (int e = from; e < to; e++) {
                x0[e] = sample[e] - sigma * flow[e];
            }
        });
        double[] next = new double[sample.length];
        advance(x0, sample, next, null);
        return next;
    }

    private void checkSizes(int flow, int sample) {
        checkNotDone();
        if (flow != sample || lastSample != null && sample != lastSample.length) {
            throw new IllegalArgumentException("Cannot take UniPC step " + stepIndex + ": model output has "
                    + flow + " elements, sample " + sample
                    + (lastSample != null ? ", previous sample " + lastSample.length : ""));
        }
    }

    /**
     * The step after x0 = sample − σ·flow: the corrector (from the second step), then the predictor into
     * {@code nextD} or, rounded to float32, {@code nextF} (one of them null).
     */
    private void advance(double[] x0, double[] sample, double[] nextD, float[] nextF) {
        int i = stepIndex;
        double[] x = sample;
        if (i > 0 && lastSample != null) {
            x = correct(x0, lastSample, sample, lastOrder);
        }
        System.arraycopy(x0History, 1, x0History, 0, solverOrder - 1);
        x0History[solverOrder - 1] = x0;

        int order = Math.min(solverOrder, schedule.steps() - i); // lower_order_final
        order = Math.min(order, lowerOrderSteps + 1); // warm-up
        lastOrder = order;
        lastSample = x;
        predict(x, order, nextD, nextF);
        if (lowerOrderSteps < solverOrder) {
            lowerOrderSteps++;
        }
        stepIndex++;
    }

    /** {@link #step(double[], double[])} for float32 tensors (the pipeline's latents); state stays float64. */
    public Tensor step(Tensor flow, Tensor sample) {
        if (!Arrays.equals(flow.shape(), sample.shape())) {
            throw new IllegalArgumentException("Cannot take UniPC step " + stepIndex + ": model output " + flow
                    + " and sample " + sample + " differ in shape");
        }
        float[] f = flow.data();
        checkSizes(f.length, sample.numel());
        double[] x = toDoubles(sample.data());
        double sigma = precision.round(sigmas[stepIndex]);
        double[] x0 = new double[x.length];
        ElementChunks.forEach(x0.length, (from, to) -> {
            for (int e = from; e < to; e++) {
                x0[e] = x[e] - sigma * f[e]; // as step(double[], double[]) on the widened flow: the same bits
            }
        });
        float[] out = new float[x.length];
        advance(x0, x, null, out);
        return new Tensor(out, sample.shape());
    }

    /** UniP: from σ_i (this step) to σ_{i+1}; x0History's last entry is x0_i. */
    private void predict(double[] x, int order, double[] nextD, float[] nextF) {
        int i = stepIndex;
        double[] m0 = x0History[solverOrder - 1];
        Step st = step(sigmas[i + 1], sigmas[i]);
        double[] rks = new double[order];
        double[][] d1 = new double[order - 1][];
        for (int k = 1; k < order; k++) {
            double rk = r(r(lambda(sigmas[i - k]) - st.lambdaS) / st.h);
            rks[k - 1] = rk;
            d1[k - 1] = x0History[solverOrder - 1 - k]; // D1 = (that − m0) / rk, formed in combine
        }
        rks[order - 1] = 1.0;
        Coefficients c = coefficients(st.h, rks);
        // the reference's order-2 predictor uses ρ = [0.5] in the sample dtype (float64), not a solve
        double[] rhos = order == 1 ? new double[0]
                : order == 2 ? new double[] {0.5}
                : solve(topLeft(c.r, order - 1), java.util.Arrays.copyOf(c.b, order - 1));
        combine(x, st, c, m0, rhos, d1, rks, null, 0, nextD, nextF);
    }

    /** UniC: corrects the sample at σ_i using the model output at σ_i; the history still ends at x0_{i−1}. */
    private double[] correct(double[] x0Now, double[] previous, double[] current, int order) {
        int i = stepIndex;
        double[] m0 = x0History[solverOrder - 1];
        Step st = step(sigmas[i], sigmas[i - 1]);
        double[] rks = new double[order];
        double[][] d1 = new double[order - 1][];
        for (int k = 1; k < order; k++) {
            double rk = r(r(lambda(sigmas[i - 1 - k]) - st.lambdaS) / st.h);
            rks[k - 1] = rk;
            d1[k - 1] = x0History[solverOrder - 1 - k]; // D1 = (that − m0) / rk, formed in combine
        }
        rks[order - 1] = 1.0;
        Coefficients c = coefficients(st.h, rks);
        double[] rhos = order == 1 ? new double[] {0.5} : solve(c.r, c.b);
        double[] corrected = new double[current.length];
        combine(previous, st, c, m0, Arrays.copyOf(rhos, rhos.length - 1), d1, rks, x0Now, rhos[rhos.length - 1], corrected, null);
        return corrected;
    }

    /** The scalars of one step from σ_s to σ_t: α_t, σ_t/σ_s, λ_s and h = λ_t − λ_s. */
    private record Step(double alphaT, double ratio, double lambdaS, double h) {}

    private Step step(double sigmaT, double sigmaS) {
        double t = r(sigmaT);
        double s = r(sigmaS);
        double lambdaS = lambda(s);
        return new Step(r(1 - t), r(t / s), lambdaS, r(lambda(t) - lambdaS));
    }

    /**
     * out = (ratio·x − a·m0) − bb·(Σ_k rhos[k]·D1_k + rhoT·(x0Now − m0)) elementwise, D1_k = (history_k − m0) / rks[k],
     * the x0Now term only in the corrector (x0Now not null); into {@code outD}, or {@code outF} rounded to float32.
     * The differences are formed inside this one pass with the same operations as arrays of their own would be: the
     * same bits, without three more passes over the latent.
     */
    private void combine(double[] x, Step st, Coefficients c, double[] m0, double[] rhos, double[][] history, double[] rks,
                         double[] x0Now, double rhoT, double[] outD, float[] outF) {
        double a = r(st.alphaT * c.hPhi1);
        double bb = r(st.alphaT * c.bh);
        ElementChunks.forEach(x.length, (from, to) -> {
            for (int e = from; e < to; e++) {
                double res = 0;
                for (int k = 0; k < rhos.length; k++) {
                    res += rhos[k] * ((history[k][e] - m0[e]) / rks[k]);
                }
                if (x0Now != null) {
                    res += rhoT * (x0Now[e] - m0[e]);
                }
                double v = (st.ratio * x[e] - a * m0[e]) - bb * res;
                if (outF != null) {
                    outF[e] = (float) v;
                } else {
                    outD[e] = v;
                }
            }
        });
    }

    /** The UniPC moment system for hh = −h: R[k][j] = rks[j]^k, b[k] = φ_{k+2}(hh)·(k+1)!/B(h). */
    private Coefficients coefficients(double h, double[] rks) {
        int order = rks.length;
        double hh = -h;
        double hPhi1 = r(Math.expm1(hh));
        double hPhiK = r(r(hPhi1 / hh) - 1);
        double bh = hPhi1; // bh2: B(h) = e^{hh} − 1
        long factorial = 1;
        double[][] rm = new double[order][order];
        double[] b = new double[order];
        for (int k = 1; k <= order; k++) {
            for (int j = 0; j < order; j++) {
                rm[k - 1][j] = r(Math.pow(rks[j], k - 1));
            }
            b[k - 1] = r(r(hPhiK * factorial) / bh);
            factorial *= k + 1;
            hPhiK = r(r(hPhiK / hh) - r(1.0 / factorial));
        }
        return new Coefficients(hPhi1, bh, rm, b);
    }

    private record Coefficients(double hPhi1, double bh, double[][] r, double[] b) {}

    /** λ = ln(α) − ln(σ) with α = 1 − σ (+∞ at σ = 0). */
    private double lambda(double sigma) {
        double s = r(sigma);
        return r(r(Math.log(r(1 - s))) - r(Math.log(s)));
    }

    private double r(double v) {
        return precision.round(v);
    }

    private static double[][] topLeft(double[][] a, int n) {
        double[][] out = new double[n][];
        for (int i = 0; i < n; i++) {
            out[i] = Arrays.copyOf(a[i], n);
        }
        return out;
    }

    /**
     * Solves a·x = b by LU with partial pivoting in the coefficient precision, in the order of the
     * reference's LAPACK/BLAS ({@code torch.linalg.solve} → getrf, which scales the column by the pivot's
     * reciprocal, and getrs, whose triangular solves multiply by the reciprocal of each diagonal entry
     * rather than divide; every update a − b·c is one fused multiply-add, as the BLAS kernels on x86-64 do):
     * these choices decide the last bits of ρ, found by matching the diffusers fixture bit for bit).
     */
    double[] solve(double[][] a, double[] b) {
        int n = b.length;
        double[][] m = new double[n][];
        double[] y = b.clone();
        for (int i = 0; i < n; i++) {
            m[i] = a[i].clone();
        }
        for (int col = 0; col < n; col++) {
            int pivot = col;
            for (int row = col + 1; row < n; row++) {
                if (Math.abs(m[row][col]) > Math.abs(m[pivot][col])) {
                    pivot = row;
                }
            }
            if (m[pivot][col] == 0) {
                throw new ArithmeticException("Cannot solve the UniPC coefficient system: singular matrix "
                        + Arrays.deepToString(a));
            }
            double[] tmp = m[col];
            m[col] = m[pivot];
            m[pivot] = tmp;
            double t = y[col];
            y[col] = y[pivot];
            y[pivot] = t;
            double inv = r(1.0 / m[col][col]);
            for (int row = col + 1; row < n; row++) {
                double f = r(m[row][col] * inv);
                m[row][col] = f;
                for (int j = col + 1; j < n; j++) {
                    m[row][j] = precision.fms(m[row][j], f, m[col][j]);
                }
            }
        }
        for (int col = 0; col < n; col++) {
            for (int row = col + 1; row < n; row++) {
                y[row] = precision.fms(y[row], y[col], m[row][col]);
            }
        }
        for (int col = n - 1; col >= 0; col--) {
            y[col] = r(y[col] * r(1.0 / m[col][col])); // the BLAS trsm kernels multiply by inverted diagonals
            for (int row = 0; row < col; row++) {
                y[row] = precision.fms(y[row], y[col], m[row][col]);
            }
        }
        return y;
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        ElementChunks.forEach(d.length, (from, to) -> {
            for (int e = from; e < to; e++) {
                d[e] = f[e];
            }
        });
        return d;
    }

    private void checkNotDone() {
        if (done()) {
            throw new IllegalStateException("Cannot take another UniPC step: all " + schedule.steps()
                    + " steps of " + schedule + " are done");
        }
    }
}
