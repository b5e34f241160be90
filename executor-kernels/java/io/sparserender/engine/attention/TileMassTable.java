package io.sparserender.engine.attention;

/**
 * Per-tile softmax masses of one call: for each (batch, head, q-tile, kv-tile), the largest fraction of
 * a row's mass that falls in the kv-tile over the rows of the q-tile. The previous-step predictor of
 * DESIGN §4 for {@code hybrid}; see {@link AttentionOptions#prior()}.
 */
public record TileMassTable(int batch, int heads, int seqLen, int br, int bc, double[] mass) {
    public TileMassTable {
        int nq = (seqLen + br - 1) / br;
        int nk = (seqLen + bc - 1) / bc;
        if (mass.length != (long) batch * heads * nq * nk) {
            throw new IllegalArgumentException("Invalid tile mass table: " + mass.length + " entries for "
                    + batch + "x" + heads + "x" + nq + "x" + nk);
        }
    }

    /** The masses of one (batch, head), row-major [q-tile][kv-tile]. */
    double[] slice(int b, int h) {
        int nq = (seqLen + br - 1) / br;
        int nk = (seqLen + bc - 1) / bc;
        int per = nq * nk;
        double[] out = new double[per];
        System.arraycopy(mass, (b * heads + h) * per, out, 0, per);
        return out;
    }
}
