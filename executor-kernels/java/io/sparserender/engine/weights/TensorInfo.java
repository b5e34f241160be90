package io.sparserender.engine.weights;

import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import java.util.Arrays;
import java.util.Objects;

/**
 * One entry of a safetensors header: dtype, shape and byte range relative to the start of the data
 * section ({@code begin} inclusive, {@code end} exclusive).
 */
public record TensorInfo(String name, DType dtype, int[] shape, long begin, long end) {
    public TensorInfo {
        Objects.requireNonNull(name, "name is null");
        Objects.requireNonNull(dtype, "dtype is null");
        shape = shape.clone();
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    public long numel() {
        return Tensor.numel(shape);
    }

    public long byteSize() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
