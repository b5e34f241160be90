package io.sparserender.engine.attention;

import io.sparserender.engine.tensor.Tensor;
import java.util.Arrays;
import java.util.Objects;

/**
 * Validated attention inputs: {@code q}, {@code k}, {@code v} of one shape {@code [B, L, H, D]}, every
 * value finite. Construction fails with an {@link IllegalArgumentException} naming the tensor.
 */
public record QkvInput(Tensor q, Tensor k, Tensor v) {
    public QkvInput {
        Objects.requireNonNull(q, "q is null");
        Objects.requireNonNull(k, "k is null");
        Objects.requireNonNull(v, "v is null");
        checkRank("q", q);
        checkRank("k", k);
        checkRank("v", v);
        if (!Arrays.equals(k.shape(), q.shape())) {
            throw new IllegalArgumentException("Invalid attention input: tensor 'k' has shape " + Arrays.toString(k.shape())
                    + ", expected the shape of 'q' " + Arrays.toString(q.shape()));
        }
        if (!Arrays.equals(v.shape(), q.shape())) {
            throw new IllegalArgumentException("Invalid attention input: tensor 'v' has shape " + Arrays.toString(v.shape())
                    + ", expected the shape of 'q' " + Arrays.toString(q.shape()));
        }
        checkFinite("q", q);
        checkFinite("k", k);
        checkFinite("v", v);
    }

    public int batch() {
        return q.dim(0);
    }

    public int seqLen() {
        return q.dim(1);
    }

    public int heads() {
        return q.dim(2);
    }

    public int headDim() {
        return q.dim(3);
    }

    /** Flat index of element (b, l, h, 0) in the [B, L, H, D] layout. */
    int offset(int b, int l, int h) {
        return ((b * seqLen() + l) * heads() + h) * headDim();
    }

    private static void checkRank(String name, Tensor t) {
        if (t.rank() != 4) {
            throw new IllegalArgumentException("Invalid attention input: tensor '" + name + "' has shape "
                    + Arrays.toString(t.shape()) + ", expected [B, L, H, D]");
        }
        for (int d : t.shape()) {
            if (d < 1) {
                throw new IllegalArgumentException("Invalid attention input: tensor '" + name + "' has an empty dimension: "
                        + Arrays.toString(t.shape()));
            }
        }
    }

    private static void checkFinite(String name, Tensor t) {
        float[] a = t.data();
        int[] s = t.shape();
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) {
                int d = i % s[3];
                int h = i / s[3] % s[2];
                int l = i / (s[3] * s[2]) % s[1];
                int b = i / (s[3] * s[2] * s[1]);
                throw new IllegalArgumentException("Invalid attention input: tensor '" + name + "' holds " + a[i]
                        + " at [" + b + ", " + l + ", " + h + ", " + d + "]");
            }
        }
    }
}
