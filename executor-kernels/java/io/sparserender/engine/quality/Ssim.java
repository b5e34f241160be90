package io.sparserender.engine.quality;

/**
 * Structural similarity (Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to
 * structural similarity", IEEE TIP 2004) of two single-channel images, in the paper's standard form and as
 * its reference code {@code ssim_index.m} computes it: an 11×11 circular-symmetric Gaussian window with σ = 1.5
 * (normalised to sum 1), K1 = 0.01, K2 = 0.03, dynamic range L = 255, local statistics over every window that
 * lies wholly inside the image ("valid" filtering, no padding), and the mean of the SSIM map (MSSIM). No
 * down-sampling is applied (the later {@code ssim.m} variant shrinks large images first; the 2004 form does
 * not). The Gaussian window is separable, so it is applied as a row pass and a column pass.
 *
 * <p>SSIM(x, y) per window = ((2 μx μy + C1)(2 σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2)) with
 * C1 = (K1 L)², C2 = (K2 L)²; σ² and σxy are the window-weighted (biased) moments E[x²] − μ², E[xy] − μx μy.
 */
public final class Ssim {
    public static final int WINDOW = 11;
    public static final double SIGMA = 1.5;
    public static final double K1 = 0.01;
    public static final double K2 = 0.03;
    public static final double L = 255.0;
    public static final double C1 = (K1 * L) * (K1 * L);
    public static final double C2 = (K2 * L) * (K2 * L);

    private static final double[] KERNEL = gaussian(WINDOW, SIGMA);

    private Ssim() {}

    /** The normalised 1-D Gaussian of {@code size} taps; the 2-D window is its outer product with itself. */
    public static double[] gaussian(int size, double sigma) {
        double[] g = new double[size];
        double c = (size - 1) / 2.0;
        double sum = 0;
        for (int i = 0; i < size; i++) {
            g[i] = Math.exp(-((i - c) * (i - c)) / (2 * sigma * sigma));
            sum += g[i];
        }
        for (int i = 0; i < size; i++) {
            g[i] /= sum;
        }
        return g;
    }

    /**
     * MSSIM of {@code x} against {@code y}, both row-major {@code width × height} on the 0–255 scale; at most 1,
     * exactly 1 for identical images. Images smaller than the 11×11 window are rejected.
     */
    public static double mean(double[] x, double[] y, int width, int height) {
        if (width < WINDOW || height < WINDOW) {
            throw new IllegalArgumentException("Cannot compute SSIM of a " + width + "x" + height
                    + " image: it must be at least " + WINDOW + "x" + WINDOW + " (the Gaussian window)");
        }
        if (x.length != width * height || y.length != width * height) {
            throw new IllegalArgumentException("Cannot compute SSIM: images hold " + x.length + " and " + y.length
                    + " values, expected " + width * height + " (" + width + "x" + height + ")");
        }
        double[] xx = new double[x.length];
        double[] yy = new double[x.length];
        double[] xy = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            xx[i] = x[i] * x[i];
            yy[i] = y[i] * y[i];
            xy[i] = x[i] * y[i];
        }
        double[] mx = filter(x, width, height);
        double[] my = filter(y, width, height);
        double[] exx = filter(xx, width, height);
        double[] eyy = filter(yy, width, height);
        double[] exy = filter(xy, width, height);
        double sum = 0;
        for (int i = 0; i < mx.length; i++) {
            double mxx = mx[i] * mx[i];
            double myy = my[i] * my[i];
            double mxy = mx[i] * my[i];
            double vx = exx[i] - mxx;
            double vy = eyy[i] - myy;
            double cxy = exy[i] - mxy;
            sum += ((2 * mxy + C1) * (2 * cxy + C2)) / ((mxx + myy + C1) * (vx + vy + C2));
        }
        return sum / mx.length;
    }

    /** The Gaussian-weighted window mean at every valid position: (height − 10) × (width − 10) values. */
    static double[] filter(double[] img, int width, int height) {
        int ow = width - WINDOW + 1;
        int oh = height - WINDOW + 1;
        double[] rows = new double[height * ow];
        for (int r = 0; r < height; r++) {
            int base = r * width;
            for (int c = 0; c < ow; c++) {
                double s = 0;
                for (int k = 0; k < WINDOW; k++) {
                    s += KERNEL[k] * img[base + c + k];
                }
                rows[r * ow + c] = s;
            }
        }
        double[] out = new double[oh * ow];
        for (int r = 0; r < oh; r++) {
            for (int c = 0; c < ow; c++) {
                double s = 0;
                for (int k = 0; k < WINDOW; k++) {
                    s += KERNEL[k] * rows[(r + k) * ow + c];
                }
                out[r * ow + c] = s;
            }
        }
        return out;
    }
}
