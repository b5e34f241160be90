package io.sparserender.engine.attention;

import java.util.Objects;

/**
 * The part every policy shares: q-tiles of {@code br} rows, kv-tiles of {@code bc} keys (the last tile
 * of each may be partial) and the order in which a q-tile visits its kv-tiles.
 */
public record Tiling(int br, int bc, VisitOrder order) {
    public static final int DEFAULT_BR = 64;
    public static final int DEFAULT_BC = 64;

    public Tiling {
        Objects.requireNonNull(order, "order is null");
        if (br < 1 || bc < 1) {
            throw new IllegalArgumentException("Invalid tiling: br and bc must be at least 1, got br=" + br + ", bc=" + bc);
        }
    }

    public static Tiling defaults() {
        return new Tiling(DEFAULT_BR, DEFAULT_BC, VisitOrder.NATURAL);
    }

    /** Number of q-tiles over {@code seqLen} rows. */
    public int qTiles(int seqLen) {
        return (seqLen + br - 1) / br;
    }

    /** Number of kv-tiles over {@code seqLen} keys. */
    public int kvTiles(int seqLen) {
        return (seqLen + bc - 1) / bc;
    }

    String specSuffix() {
        return "br=" + br + ",bc=" + bc + ",order=" + order.specName();
    }
}
