package io.sparserender.engine.attention;

/**
 * Which tiles a call computed fully (exp and PV done), per (batch, head, q-tile, kv-tile). Skipped
 * tiles, in the loop or before QKᵀ, are false. The input of {@link ExactRecall}.
 */
public final class TileMask {
    private final int batch;
    private final int heads;
    private final int qTiles;
    private final int kvTiles;
    private final boolean[] kept;

    TileMask(int batch, int heads, int qTiles, int kvTiles) {
        this.batch = batch;
        this.heads = heads;
        this.qTiles = qTiles;
        this.kvTiles = kvTiles;
        this.kept = new boolean[Math.multiplyExact(Math.multiplyExact(batch * heads, qTiles), kvTiles)];
    }

    /**
     * The mask of a call that ran elsewhere (the CUDA kernel): {@code flags[((b·H + h)·qTiles + qt)·kvTiles + kt]},
     * a tile kept when its flag is 1 (0: skipped in the loop, 2: skipped before QKᵀ).
     */
    public static TileMask fromKeepFlags(int batch, int heads, int qTiles, int kvTiles, int[] flags) {
        TileMask m = new TileMask(batch, heads, qTiles, kvTiles);
        if (flags.length != m.kept.length) {
            throw new IllegalArgumentException("Invalid keep flags: " + flags.length + " entries for " + batch + "x" + heads
                    + "x" + qTiles + "x" + kvTiles + " tiles");
        }
        for (int i = 0; i < flags.length; i++) {
            m.kept[i] = flags[i] == 1;
        }
        return m;
    }

    public boolean kept(int b, int h, int qt, int kt) {
        return kept[index(b, h, qt, kt)];
    }

    void set(int b, int h, int qt, int kt) {
        kept[index(b, h, qt, kt)] = true;
    }

    public int qTiles() {
        return qTiles;
    }

    public int kvTiles() {
        return kvTiles;
    }

    private int index(int b, int h, int qt, int kt) {
        return ((b * heads + h) * qTiles + qt) * kvTiles + kt;
    }
}
