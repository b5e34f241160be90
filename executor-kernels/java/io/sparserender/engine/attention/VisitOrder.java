package io.sparserender.engine.attention;

import java.util.Locale;

/**
 * The order in which one q-tile visits its kv-tiles. The in-loop rules (BLASST, DynSparse, recall)
 * compare each tile with what has been kept so far, so they skip more when the massive tiles come
 * first; the paper leaves the order open, this is our parameter.
 *
 * <ul>
 *   <li>{@code natural}: kv-tiles 0, 1, 2, … (what a plain FlashAttention loop does).
 *   <li>{@code local}: kv-tiles sorted by the Euclidean distance between the centroid of their tokens
 *       on the (frame, row, column) grid and the centroid of the q-tile's tokens, nearest first, ties by
 *       index. Needs the grid ({@link VideoGrid}).
 *   <li>{@code estimate}: kv-tiles sorted by the pre-pass estimate of their mass for this q-tile,
 *       largest first, ties by index ({@link TileEstimates}).
 * </ul>
 */
public enum VisitOrder {
    NATURAL, LOCAL, ESTIMATE;

    public String specName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The order named {@code s} in a policy spec, or null when unknown. */
    static VisitOrder fromSpec(String s) {
        for (VisitOrder o : values()) {
            if (o.specName().equals(s)) {
                return o;
            }
        }
        return null;
    }
}
