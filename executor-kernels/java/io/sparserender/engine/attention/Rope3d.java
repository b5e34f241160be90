package io.sparserender.engine.attention;

/**
 * Wan's 3D rotary position embedding of one head vector (REFERENCE.md, DiT facts 5): head_dim d splits
 * into rotary widths t = d − 4·⌊d/6⌋ (frames), h = w = 2·⌊d/6⌋ (rows, columns); each axis has its own
 * frequencies 1/10000^(2j/width); pairs (x[2k], x[2k+1]) are interleaved; the first t/2 pairs rotate by
 * the frame index, the next h/2 by the row, the last w/2 by the column.
 */
final class Rope3d {
    private final int headDim;
    private final double[] freq;  // per pair
    private final int[] axis;     // per pair: 0 frame, 1 row, 2 column

    Rope3d(int headDim) {
        if (headDim < 6 || headDim % 2 != 0) {
            throw new IllegalArgumentException("Invalid head dim " + headDim + " for 3D RoPE: must be even and at least 6");
        }
        this.headDim = headDim;
        int hw = 2 * (headDim / 6);
        int t = headDim - 2 * hw;
        int pairs = headDim / 2;
        freq = new double[pairs];
        axis = new int[pairs];
        int p = 0;
        for (int j = 0; j < t / 2; j++, p++) {
            freq[p] = Math.pow(10000, -2.0 * j / t);
            axis[p] = 0;
        }
        for (int a = 1; a <= 2; a++) {
            for (int j = 0; j < hw / 2; j++, p++) {
                freq[p] = Math.pow(10000, -2.0 * j / hw);
                axis[p] = a;
            }
        }
    }

    /** The rotation frequency (radians per position step) of pair p = d / 2. */
    double frequency(int pair) {
        return freq[pair];
    }

    /** Rotates x (length headDim) in place for position (frame, row, column). */
    void apply(double[] x, int frame, int row, int col) {
        for (int p = 0; p < headDim / 2; p++) {
            int pos = axis[p] == 0 ? frame : axis[p] == 1 ? row : col;
            double th = pos * freq[p];
            double c = Math.cos(th);
            double s = Math.sin(th);
            double x0 = x[2 * p];
            double x1 = x[2 * p + 1];
            x[2 * p] = x0 * c - x1 * s;
            x[2 * p + 1] = x0 * s + x1 * c;
        }
    }
}
