package io.sparserender.engine.attention;

import java.util.stream.IntStream;

/**
 * One dense float64 pass over the inputs (the cost of exact statistics): per row the exact softmax over
 * all keys, from which it keeps the dense output and, for kv-tiles of {@code bc} keys, each row's mass
 * fraction per kv-tile. Shared by every policy with the same bc over the same input (a sweep computes it
 * once per bc).
 */
public final class DenseReference {
    private final int batch;
    private final int seqLen;
    private final int heads;
    private final int headDim;
    private final int bc;
    private final int nk;
    private final double[] out;      // [B, L, H, D]
    private final double[] rowTile;  // [B, H, L, nk]: fraction of row's mass in kv-tile

    private DenseReference(int batch, int seqLen, int heads, int headDim, int bc, double[] out, double[] rowTile) {
        this.batch = batch;
        this.seqLen = seqLen;
        this.heads = heads;
        this.headDim = headDim;
        this.bc = bc;
        this.nk = (seqLen + bc - 1) / bc;
        this.out = out;
        this.rowTile = rowTile;
    }

    public static DenseReference compute(QkvInput in, int bc) {
        int bsz = in.batch();
        int seqLen = in.seqLen();
        int heads = in.heads();
        int headDim = in.headDim();
        int nk = (seqLen + bc - 1) / bc;
        double[] out = new double[in.q().numel()];
        double[] rowTile = new double[Math.multiplyExact(bsz * heads * seqLen, nk)];
        double scale = 1 / Math.sqrt(headDim);
        float[] qd = in.q().data();
        float[] kd = in.k().data();
        float[] vd = in.v().data();
        IntStream.range(0, bsz * heads).parallel().forEach(bh -> {
            int b = bh / heads;
            int h = bh % heads;
            double[] kT = new double[seqLen * headDim]; // [D][L]: scores run along keys
            double[] v = new double[seqLen * headDim];
            for (int j = 0; j < seqLen; j++) {
                int src = in.offset(b, j, h);
                for (int d = 0; d < headDim; d++) {
                    kT[d * seqLen + j] = kd[src + d];
                    v[j * headDim + d] = vd[src + d];
                }
            }
            double[] s = new double[seqLen];
            double[] q = new double[headDim];
            double[] o = new double[headDim];
            for (int i = 0; i < seqLen; i++) {
                int qi = in.offset(b, i, h);
                for (int d = 0; d < headDim; d++) {
                    q[d] = qd[qi + d];
                }
                java.util.Arrays.fill(s, 0);
                for (int d = 0; d < headDim; d++) {
                    double qv = q[d];
                    int k0 = d * seqLen;
                    for (int j = 0; j < seqLen; j++) {
                        s[j] += qv * kT[k0 + j];
                    }
                }
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < seqLen; j++) {
                    s[j] *= scale;
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                java.util.Arrays.fill(o, 0);
                int t0 = ((b * heads + h) * seqLen + i) * nk;
                for (int j = 0; j < seqLen; j++) {
                    double p = Math.exp(s[j] - max);
                    sum += p;
                    rowTile[t0 + j / bc] += p;
                    for (int d = 0; d < headDim; d++) {
                        o[d] += p * v[j * headDim + d];
                    }
                }
                for (int t = 0; t < nk; t++) {
                    rowTile[t0 + t] /= sum;
                }
                for (int d = 0; d < headDim; d++) {
                    out[qi + d] = o[d] / sum;
                }
            }
        });
        return new DenseReference(bsz, seqLen, heads, headDim, bc, out, rowTile);
    }

    public int bc() {
        return bc;
    }

    /** The dense float64 output, layout [B, L, H, D]. */
    public double[] output() {
        return out;
    }

    /** The fraction of row i's softmax mass (batch b, head h) that falls in kv-tile kt. */
    public double rowTileMass(int b, int h, int i, int kt) {
        return rowTile[((b * heads + h) * seqLen + i) * nk + kt];
    }

    int batch() {
        return batch;
    }

    int seqLen() {
        return seqLen;
    }

    int heads() {
        return heads;
    }

    int headDim() {
        return headDim;
    }

    int kvTiles() {
        return nk;
    }

    /**
     * Per (batch, head, q-tile of {@code br} rows, kv-tile): the largest row mass fraction in the tile
     * over the q-tile's rows. Pass it as {@link AttentionOptions#prior()} of a later call.
     */
    public TileMassTable tileMassTable(int br) {
        int nq = (seqLen + br - 1) / br;
        double[] mass = new double[batch * heads * nq * nk];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < seqLen; i++) {
                    int qt = i / br;
                    int dst = ((b * heads + h) * nq + qt) * nk;
                    for (int kt = 0; kt < nk; kt++) {
                        mass[dst + kt] = Math.max(mass[dst + kt], rowTileMass(b, h, i, kt));
                    }
                }
            }
        }
        return new TileMassTable(batch, heads, seqLen, br, bc, mass);
    }
}
