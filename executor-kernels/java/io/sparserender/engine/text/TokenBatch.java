package io.sparserender.engine.text;

import java.util.Arrays;

/**
 * Token ids and attention mask of {@code batch} sequences padded to {@code length}, row-major
 * [batch, length]; mask 1 for real tokens (the prompt's pieces and its {@code </s>}), 0 for padding.
 */
public record TokenBatch(int batch, int length, int[] ids, int[] mask) {
    public TokenBatch {
        ids = ids.clone();
        mask = mask.clone();
        if (batch <= 0 || length <= 0 || ids.length != batch * length || mask.length != ids.length) {
            throw new IllegalArgumentException("Invalid token batch: " + batch + " × " + length + " with "
                    + ids.length + " ids and " + mask.length + " mask values");
        }
        for (int i = 0; i < mask.length; i++) {
            if (mask[i] != 0 && mask[i] != 1) {
                throw new IllegalArgumentException("Invalid token batch: mask value " + mask[i] + " at row "
                        + i / length + ", position " + i % length + " (expected 0 or 1)");
            }
        }
    }

    /** From per-row arrays of equal length. */
    public static TokenBatch of(int[][] ids, int[][] mask) {
        int b = ids.length;
        int l = b == 0 ? 0 : ids[0].length;
        int[] flatIds = new int[b * l];
        int[] flatMask = new int[b * l];
        for (int r = 0; r < b; r++) {
            if (ids[r].length != l || mask.length != b || mask[r].length != l) {
                throw new IllegalArgumentException("Invalid token batch: row " + r + " has " + ids[r].length
                        + " ids, expected " + l + " ids and as many mask values");
            }
            System.arraycopy(ids[r], 0, flatIds, r * l, l);
            System.arraycopy(mask[r], 0, flatMask, r * l, l);
        }
        return new TokenBatch(b, l, flatIds, flatMask);
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    @Override
    public int[] mask() {
        return mask.clone();
    }

    public int[] row(int r) {
        return Arrays.copyOfRange(ids, r * length, (r + 1) * length);
    }

    /** Real tokens per row: the number of mask ones (padding only at the end). */
    public int[] lengths() {
        int[] out = new int[batch];
        for (int i = 0; i < mask.length; i++) {
            out[i / length] += mask[i];
        }
        return out;
    }

    public float[] maskAsFloats() {
        float[] f = new float[mask.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = mask[i];
        }
        return f;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenBatch t && batch == t.batch && length == t.length && Arrays.equals(ids, t.ids)
                && Arrays.equals(mask, t.mask);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + Arrays.hashCode(mask);
    }

    @Override
    public String toString() {
        return "TokenBatch[" + batch + " × " + length + ", lengths " + Arrays.toString(lengths()) + "]";
    }
}
