package io.sparserender.engine.sampler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.testing.SharedFixtures;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** diffusers' UniPCMultistepScheduler (flow, shift 5, order 2, bh2, x0, lower_order_final), 20 steps. */
class FlowUniPcSamplerTest {
    private static final String FIXTURE = "unipc-shift5-20.safetensors";

    @Test
    void matchesDiffusersStepByStepInFloat64() {
        // With the reference's float32 coefficient arithmetic every step is reproduced (0 difference here);
        // the bound is the brief's 1e-9 so that a 1-ulp difference of a JVM's Math.log cannot fail it.
        double worst = replay(CoefficientPrecision.REFERENCE_FLOAT32, 1e-9);
        System.out.printf("UniPC vs diffusers fixture: worst relative max error %.3e over 20 steps%n", worst);
    }

    @Test
    void float64CoefficientsStayCloseToTheReference() {
        double worst = replay(CoefficientPrecision.FLOAT64, 1e-6);
        System.out.printf("UniPC with float64 coefficients vs fixture: worst relative max error %.3e%n", worst);
        assertThat(worst).as("float64 coefficients differ from the float32 reference").isGreaterThan(1e-12);
    }

    private static double replay(CoefficientPrecision precision, double tolerance) {
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path(FIXTURE))) {
            double[] sigmas = f.readDoubles("sigmas");
            long[] timesteps = f.readLongs("timesteps");
            double[] outputs = f.readDoubles("model_outputs");
            double[] samples = f.readDoubles("samples");
            double[] x = f.readDoubles("initial");
            int n = x.length;
            FlowUniPcSampler sampler = new FlowUniPcSampler(new SigmaSchedule(sigmas, timesteps), 2, precision);
            double worst = 0;
            for (int i = 0; i < timesteps.length; i++) {
                assertThat(sampler.nextTimestep()).isEqualTo(timesteps[i]);
                double[] v = Arrays.copyOfRange(outputs, i * n, (i + 1) * n);
                x = sampler.step(v, x);
                double[] expected = Arrays.copyOfRange(samples, i * n, (i + 1) * n);
                double err = maxAbsDiff(x, expected) / Math.max(1e-30, maxAbs(expected));
                worst = Math.max(worst, err);
                assertThat(err).as("relative max error after step %d", i).isLessThanOrEqualTo(tolerance);
            }
            assertThat(sampler.done()).isTrue();
            return worst;
        }
    }

    @Test
    void diffusersGridReproducesTheFixtureSchedule() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path(FIXTURE))) {
            SigmaSchedule s = SigmaSchedule.diffusersFlow(20, 5.0);
            assertThat(s.timesteps()).containsExactly(f.readLongs("timesteps"));
            assertThat(s.sigmas()).containsExactly(f.readDoubles("sigmas"));
        }
    }

    @Test
    void lastStepReturnsTheDataPrediction() {
        SigmaSchedule s = SigmaSchedule.wanOfficial(3, 5.0);
        FlowUniPcSampler sampler = new FlowUniPcSampler(s);
        double[] x = {0.3, -1.2};
        x = sampler.step(new double[] {0.1, 0.2}, x);
        x = sampler.step(new double[] {-0.4, 0.5}, x);
        double sigma = s.sigma(2);
        double[] v = {0.7, -0.9};
        double[] last = sampler.step(v, x);
        // order 1 on the last step towards σ = 0 (lower_order_final): the result is exactly the data
        // prediction x0 = x − σ·v of the incoming sample, whatever the corrector did to x.
        assertThat(last).containsExactly(x[0] - sigma * v[0], x[1] - sigma * v[1]);
        assertThat(sampler.done()).isTrue();
        assertThatThrownBy(() -> sampler.step(v, last)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("all 3 steps");
    }

    @Test
    void floatTensorStepFollowsTheDoublePath() {
        SigmaSchedule s = SigmaSchedule.wanOfficial(4, 5.0);
        FlowUniPcSampler a = new FlowUniPcSampler(s);
        FlowUniPcSampler b = new FlowUniPcSampler(s);
        Tensor x = new Tensor(new float[] {0.5f, -0.25f, 1.5f}, 3);
        double[] xd = {0.5, -0.25, 1.5};
        for (int i = 0; i < 4; i++) {
            float[] v = {0.1f * i, -0.3f, 0.2f + i};
            x = a.step(new Tensor(v, 3), x);
            double[] vd = {v[0], v[1], v[2]};
            xd = b.step(vd, xd);
            for (int e = 0; e < 3; e++) {
                assertThat((double) x.data()[e]).isCloseTo(xd[e], org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    /**
     * The float32 path (the pipeline's, which forms x0 from the float flow and rounds the update as it writes it) is
     * the float64 step on the widened inputs, rounded: bit for bit, at every step, on a latent large enough to run in
     * parallel chunks.
     */
    @Test
    void floatTensorStepIsTheDoubleStepRounded() {
        int n = 2 * io.sparserender.engine.tensor.ElementChunks.PARALLEL_MIN + 5;
        java.util.SplittableRandom r = new java.util.SplittableRandom(11);
        SigmaSchedule s = SigmaSchedule.wanOfficial(6, 5.0);
        FlowUniPcSampler a = new FlowUniPcSampler(s);
        FlowUniPcSampler b = new FlowUniPcSampler(s);
        float[] x = new float[n];
        for (int e = 0; e < n; e++) {
            x[e] = (float) r.nextGaussian();
        }
        for (int step = 0; step < 6; step++) {
            float[] v = new float[n];
            double[] vd = new double[n];
            double[] xd = new double[n];
            for (int e = 0; e < n; e++) {
                v[e] = (float) r.nextGaussian();
                vd[e] = v[e];
                xd[e] = x[e];
            }
            float[] got = a.step(new Tensor(v, n), new Tensor(x, n)).data();
            double[] want = b.step(vd, xd);
            for (int e = 0; e < n; e++) {
                if (got[e] != (float) want[e]) {
                    throw new AssertionError("step " + step + ", element " + e + ": " + got[e] + " != " + (float) want[e]);
                }
            }
            x = got;
        }
    }

    /**
     * A latent as large as a real clip's runs its element loops in parallel chunks (ElementChunks): every step must give
     * the same bits as the same sampler run on slices small enough to run sequentially (each element's arithmetic is
     * independent of the others), including the slices that straddle chunk boundaries.
     */
    @Test
    void largeLatentsStepTheSameBitsAsTheirSlices() {
        int n = 3 * io.sparserender.engine.tensor.ElementChunks.PARALLEL_MIN + 777;
        int slice = io.sparserender.engine.tensor.ElementChunks.PARALLEL_MIN / 2 - 3;
        java.util.SplittableRandom r = new java.util.SplittableRandom(7);
        double[] x = new double[n];
        for (int e = 0; e < n; e++) {
            x[e] = r.nextGaussian();
        }
        SigmaSchedule s = SigmaSchedule.wanOfficial(5, 5.0);
        FlowUniPcSampler whole = new FlowUniPcSampler(s);
        int parts = (n + slice - 1) / slice;
        FlowUniPcSampler[] sliced = new FlowUniPcSampler[parts];
        double[][] xs = new double[parts][];
        for (int p = 0; p < parts; p++) {
            sliced[p] = new FlowUniPcSampler(s);
            xs[p] = Arrays.copyOfRange(x, p * slice, Math.min(n, (p + 1) * slice));
        }
        for (int step = 0; step < 5; step++) {
            double[] v = new double[n];
            for (int e = 0; e < n; e++) {
                v[e] = r.nextGaussian();
            }
            x = whole.step(v, x);
            for (int p = 0; p < parts; p++) {
                xs[p] = sliced[p].step(Arrays.copyOfRange(v, p * slice, Math.min(n, (p + 1) * slice)), xs[p]);
                double[] want = xs[p];
                double[] got = Arrays.copyOfRange(x, p * slice, Math.min(n, (p + 1) * slice));
                assertThat(got).as("step %d, slice %d", step, p).containsExactly(want);
            }
        }
    }

    @Test
    void rejectsMismatchedSizes() {
        FlowUniPcSampler sampler = new FlowUniPcSampler(SigmaSchedule.wanOfficial(2, 5.0));
        assertThatThrownBy(() -> sampler.step(new double[3], new double[2]))
                .hasMessageContaining("model output has 3 elements, sample 2");
    }

    static double maxAbsDiff(double[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    static double maxAbs(double[] a) {
        double m = 0;
        for (double v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
