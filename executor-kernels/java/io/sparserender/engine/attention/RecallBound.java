package io.sparserender.engine.attention;

import java.util.Locale;

/**
 * How the {@code recall} and {@code hybrid} policies bound the softmax mass of a tile they consider
 * skipping, for one row, in units of exp(running max m). The QKᵀ tile s[c] (c &lt; cols) and its row
 * maximum t are already computed when the bound is taken.
 *
 * <ul>
 *   <li>{@code max}: cols · exp(t − m). One exp per row; loose by up to a factor cols.
 *   <li>{@code exact}: Σ_c exp(s[c] − m), the tile's true mass. One exp per element (the exp work of a
 *       kept tile), still skipping the V load and PV.
 *   <li>{@code binned}: a cheap tight bound. Each score falls into a bin of width 1 nat below the row
 *       maximum, k = ⌊t − s[c]⌋ for k &lt; {@value #BINS}, else into the tail; the bound is
 *       Σ_k count_k · exp(t − k − m) + tail · exp(t − {@value #BINS} − m). It is at most e times the
 *       true mass of the binned scores plus cols·e^−{@value #BINS} of the row max's weight for the tail:
 *       {@value #BINS} + 1 exps per row and one compare-and-count per element.
 * </ul>
 */
public enum RecallBound {
    MAX, EXACT, BINNED;

    /** Number of 1-nat bins of the {@code binned} bound below the row maximum. */
    public static final int BINS = 6;

    public String specName() {
        return name().toLowerCase(Locale.ROOT);
    }

    static RecallBound fromSpec(String s) {
        for (RecallBound b : values()) {
            if (b.specName().equals(s)) {
                return b;
            }
        }
        return null;
    }
}
