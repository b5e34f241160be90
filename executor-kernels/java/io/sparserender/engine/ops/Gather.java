package io.sparserender.engine.ops;

import io.sparserender.engine.tensor.Tensor;

/** Host row gather shared by {@link CpuOps#embedding} and the default {@link Ops#embedding}. */
final class Gather {
    private Gather() {}

    static Tensor rows(Tensor table, int[] ids) {
        if (table.rank() != 2) {
            throw new IllegalArgumentException("Cannot gather embeddings: table " + table + " is not [V, D]");
        }
        int v = table.dim(0);
        int d = table.dim(1);
        float[] out = new float[ids.length * d];
        for (int r = 0; r < ids.length; r++) {
            int id = ids[r];
            if (id < 0 || id >= v) {
                throw new IllegalArgumentException("Cannot gather embeddings: id " + id + " at position " + r
                        + " is outside the table's " + v + " rows");
            }
            System.arraycopy(table.data(), id * d, out, r * d, d);
        }
        return new Tensor(out, ids.length, d);
    }
}
