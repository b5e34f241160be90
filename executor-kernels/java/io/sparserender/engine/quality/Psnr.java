package io.sparserender.engine.quality;

/**
 * Peak signal-to-noise ratio of 8-bit frames against a reference, over a whole clip: one mean squared error
 * over every byte (R, G and B of every pixel of every frame), PSNR = 10·log10(255² / MSE) in dB, +∞ when the
 * frames are identical. One clip-level MSE rather than a mean of per-frame PSNRs, so a clip whose first
 * frame happens to match exactly does not turn the mean infinite. Add frames in any order, then read.
 */
public final class Psnr {
    public static final double PEAK = 255.0;

    private double sumSquares;
    private long count;

    /** Adds one frame pair (the same number of bytes each). */
    public void add(byte[] frame, byte[] reference) {
        if (frame.length != reference.length) {
            throw new IllegalArgumentException("Cannot compare frames of " + frame.length + " and "
                    + reference.length + " bytes");
        }
        long s = 0; // at most 255² per byte: a long holds any frame's sum exactly
        for (int i = 0; i < frame.length; i++) {
            int d = (frame[i] & 0xff) - (reference[i] & 0xff);
            s += (long) d * d;
        }
        sumSquares += s;
        count += frame.length;
    }

    /** Mean squared error over every byte added (NaN before any). */
    public double mse() {
        return count == 0 ? Double.NaN : sumSquares / count;
    }

    /** PSNR in dB of what was added: +∞ when identical, NaN before any frame. */
    public double db() {
        return ofMse(mse());
    }

    /** 10·log10(255² / mse): +∞ for 0, NaN for NaN. */
    public static double ofMse(double mse) {
        if (Double.isNaN(mse)) {
            return Double.NaN;
        }
        return mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(PEAK * PEAK / mse);
    }
}
