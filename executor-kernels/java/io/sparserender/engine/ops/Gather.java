package io.sparserender.engine.ops;

import io.sparserender.engine.tensor.Tensor;

/** Host row gather shared by {@link CpuOps#embedding} and the default {@link Ops#embedding}; its id check is every backend's. */
public final class Gather {
    private Gather() {}

    /** Refuses an id outside a table of {@code rows} rows, naming it and its position (every backend's embedding). */
    public static void requireIds(int[] ids, int rows) {
        for (int r = 0; r < ids.length; r++) {
            if (ids[r] < 0 || ids[r] >= rows) {
                throw new IllegalArgumentException("Cannot gather embeddings: id " + ids[r] + " at position " + r
                        + " is outside the table's " + rows + " rows");
            }
        }
    }

    static Tensor rows(Tensor table, int[] ids) {
        if (table.rank() != 2) {
            throw new IllegalArgumentException("Cannot gather embeddings: table " + table + " is not [V, D]");
        }
        int v = table.dim(0);
        int d = table.dim(1);
        requireIds(ids, v);
        float[] out = new float[ids.length * d];
        for (int r = 0; r < ids.length; r++) {
            System.arraycopy(table.data(), ids[r] * d, out, r * d, d);
        }
        return new Tensor(out, ids.length, d);
    }
}
