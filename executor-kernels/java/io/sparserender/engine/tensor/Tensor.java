package io.sparserender.engine.tensor;

import java.util.Arrays;

/**
 * A dense float32 tensor in row-major order on the host: the value type of the CPU reference.
 * The array is shared, not copied: a Tensor is a view that its producer hands over.
 */
public final class Tensor {
    private final int[] shape;
    private final float[] data;

    public Tensor(float[] data, int... shape) {
        this.shape = shape.clone();
        this.data = data;
        long n = numel(this.shape);
        if (n != data.length) {
            throw new IllegalArgumentException("Invalid tensor: shape " + Arrays.toString(shape)
                    + " holds " + n + " elements, data has " + data.length);
        }
    }

    public static Tensor zeros(int... shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("Cannot allocate tensor of shape " + Arrays.toString(shape)
                    + ": " + n + " elements exceed one Java array");
        }
        return new Tensor(new float[(int) n], shape);
    }

    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("Invalid shape " + Arrays.toString(shape) + ": negative dimension");
            }
            n *= d;
        }
        return n;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public int numel() {
        return data.length;
    }

    /** The backing array (row-major). */
    public float[] data() {
        return data;
    }

    /** The same data under another shape with the same element count. */
    public Tensor reshape(int... newShape) {
        return new Tensor(data, newShape);
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape);
    }
}
