package io.sparserender.engine.quality;

/**
 * Temporal flicker of a clip: the mean absolute difference of consecutive frames' luma (BT.601, 0–255 scale),
 * over every pixel and every consecutive pair, i.e. (1 / ((T − 1)·H·W)) Σₜ Σₚ |Yₜ(p) − Yₜ₋₁(p)|. It counts real
 * motion as well as flicker, so it means something only next to another render of the same clip: a sparse
 * render flickers more than its dense reference by {@code flicker − flicker_reference}. NaN for fewer than two
 * frames. Feed frames in order.
 */
public final class Flicker {
    private double[] previous;
    private double sum;
    private long count;

    /** Adds the next frame's luma plane. */
    public void add(double[] luma) {
        if (previous != null) {
            if (luma.length != previous.length) {
                throw new IllegalArgumentException("Cannot add a frame of " + luma.length + " pixels after one of "
                        + previous.length);
            }
            double s = 0;
            for (int p = 0; p < luma.length; p++) {
                s += Math.abs(luma[p] - previous[p]);
            }
            sum += s;
            count += luma.length;
        }
        previous = luma;
    }

    /** The score of the frames added so far: NaN for fewer than two. */
    public double score() {
        return count == 0 ? Double.NaN : sum / count;
    }
}
