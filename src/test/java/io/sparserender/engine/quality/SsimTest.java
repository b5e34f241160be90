package io.sparserender.engine.quality;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** SSIM in Wang et al.'s 2004 form: hand-computable cases, an independent per-window evaluation, known values. */
class SsimTest {
    private static double[] random(Random rnd, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = rnd.nextInt(256);
        }
        return v;
    }

    private static double[] constant(double value, int n) {
        double[] v = new double[n];
        java.util.Arrays.fill(v, value);
        return v;
    }

    /** The pair of the known-value test, also written out in the comment there to redo it elsewhere. */
    private static double[][] pattern(int w, int h) {
        double[] x = new double[w * h];
        double[] y = new double[w * h];
        for (int r = 0; r < h; r++) {
            for (int c = 0; c < w; c++) {
                int v = (r * 37 + c * 11 + ((r * c) % 7) * 13) % 256;
                x[r * w + c] = v;
                y[r * w + c] = Math.min(255, Math.max(0, v + ((r + 2 * c) % 5 - 2) * 9));
            }
        }
        return new double[][] {x, y};
    }

    @Test
    void windowIsMatlabsElevenTapGaussianWithSigmaOnePointFive() {
        double[] g = Ssim.gaussian(Ssim.WINDOW, Ssim.SIGMA);
        assertThat(java.util.Arrays.stream(g).sum()).isCloseTo(1.0, within(1e-15));
        for (int i = 0; i < g.length; i++) {
            assertThat(g[i]).isEqualTo(g[g.length - 1 - i]);
        }
        // fspecial('gaussian', 11, 1.5) has 0.0707622 at its centre (= 1 / (Σ_k exp(−k²/4.5))²)
        assertThat(g[5] * g[5]).isCloseTo(0.0707622377639, within(1e-12));
        assertThat(Ssim.C1).isCloseTo(6.5025, within(1e-12));
        assertThat(Ssim.C2).isCloseTo(58.5225, within(1e-12));
    }

    @Test
    void identicalImagesScoreExactlyOne() {
        double[] x = random(new Random(1), 40 * 30);
        assertThat(Ssim.mean(x, x.clone(), 40, 30)).isEqualTo(1.0);
    }

    @Test
    void flatImagesKeepOnlyTheLuminanceTerm() {
        // σx = σy = σxy = 0: SSIM = (2ab + C1) / (a² + b² + C1) in every window
        double a = 100;
        double b = 110;
        double expected = (2 * a * b + Ssim.C1) / (a * a + b * b + Ssim.C1);
        assertThat(Ssim.mean(constant(a, 16 * 12), constant(b, 16 * 12), 16, 12)).isCloseTo(expected, within(1e-12));
        assertThat(expected).isCloseTo(0.99547644, within(1e-8));
    }

    @Test
    void matchesADirectPerWindowEvaluationOfTheFormula() {
        Random rnd = new Random(7);
        int w = 23;
        int h = 17;
        double[] x = random(rnd, w * h);
        double[] y = new double[w * h];
        for (int i = 0; i < y.length; i++) {
            y[i] = Math.min(255, Math.max(0, x[i] + rnd.nextGaussian() * 30));
        }
        double[] g = Ssim.gaussian(11, 1.5);
        double sum = 0;
        int windows = 0;
        for (int r0 = 0; r0 + 11 <= h; r0++) {
            for (int c0 = 0; c0 + 11 <= w; c0++) {
                double mx = 0;
                double my = 0;
                for (int i = 0; i < 11; i++) {
                    for (int j = 0; j < 11; j++) {
                        int p = (r0 + i) * w + c0 + j;
                        mx += g[i] * g[j] * x[p];
                        my += g[i] * g[j] * y[p];
                    }
                }
                double vx = 0;
                double vy = 0;
                double cxy = 0;
                for (int i = 0; i < 11; i++) {
                    for (int j = 0; j < 11; j++) {
                        int p = (r0 + i) * w + c0 + j;
                        vx += g[i] * g[j] * (x[p] - mx) * (x[p] - mx);
                        vy += g[i] * g[j] * (y[p] - my) * (y[p] - my);
                        cxy += g[i] * g[j] * (x[p] - mx) * (y[p] - my);
                    }
                }
                sum += (2 * mx * my + Ssim.C1) * (2 * cxy + Ssim.C2)
                        / ((mx * mx + my * my + Ssim.C1) * (vx + vy + Ssim.C2));
                windows++;
            }
        }
        assertThat(windows).isEqualTo(13 * 7);
        assertThat(Ssim.mean(x, y, w, h)).isCloseTo(sum / windows, within(1e-12)).isLessThan(1.0);
    }

    @Test
    void agreesWithScikitImage() {
        // scikit-image 0.26: structural_similarity(x, y, gaussian_weights=True, sigma=1.5,
        // use_sample_covariance=False, data_range=255) on these 32×24 images gives 0.9829142192591908,
        // and on (x, 255 − x) −0.9417496458475099.
        double[][] p = pattern(32, 24);
        assertThat(Ssim.mean(p[0], p[1], 32, 24)).isCloseTo(0.9829142192591908, within(1e-12));
        double[] inverted = new double[p[0].length];
        for (int i = 0; i < inverted.length; i++) {
            inverted[i] = 255 - p[0][i];
        }
        assertThat(Ssim.mean(p[0], inverted, 32, 24)).isCloseTo(-0.9417496458475099, within(1e-12));
    }

    @Test
    void isSymmetricAndFallsAsNoiseGrows() {
        Random rnd = new Random(3);
        int w = 32;
        int h = 32;
        double[] x = random(rnd, w * h);
        double[] small = new double[w * h];
        double[] large = new double[w * h];
        for (int i = 0; i < x.length; i++) {
            double n = rnd.nextGaussian();
            small[i] = Math.min(255, Math.max(0, x[i] + 5 * n));
            large[i] = Math.min(255, Math.max(0, x[i] + 40 * n));
        }
        assertThat(Ssim.mean(x, small, w, h)).isEqualTo(Ssim.mean(small, x, w, h));
        assertThat(Ssim.mean(x, small, w, h)).isLessThan(1.0).isGreaterThan(Ssim.mean(x, large, w, h));
    }

    @Test
    void rejectsImagesSmallerThanTheWindowAndWrongSizes() {
        assertThatThrownBy(() -> Ssim.mean(new double[100], new double[100], 10, 10))
                .hasMessage("Cannot compute SSIM of a 10x10 image: it must be at least 11x11 (the Gaussian window)");
        assertThatThrownBy(() -> Ssim.mean(new double[144], new double[143], 12, 12))
                .hasMessage("Cannot compute SSIM: images hold 144 and 143 values, expected 144 (12x12)");
    }
}
