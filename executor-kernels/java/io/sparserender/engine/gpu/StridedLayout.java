package io.sparserender.engine.gpu;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An iteration space (an output shape) and, per operand, one element stride per dimension (0 on a
 * broadcast dimension): what the strided kernels of {@code tensor_ops.cu} take. {@link #collapsed}
 * merges neighbouring dimensions that every operand walks contiguously, so the common cases reach the
 * kernels as one or two dimensions (fewer divisions per element) and any rank fits the kernels' limit.
 */
public record StridedLayout(int[] shape, List<long[]> strides) {
    /** The kernels' dimension limit (tops::MAX_RANK). */
    public static final int MAX_RANK = 8;

    public StridedLayout {
        shape = shape.clone();
        List<long[]> copy = new ArrayList<>();
        for (long[] s : strides) {
            if (s.length != shape.length) {
                throw new IllegalArgumentException("Strides " + Arrays.toString(s) + " do not match shape " + Arrays.toString(shape));
            }
            copy.add(s.clone());
        }
        strides = List.copyOf(copy);
    }

    /** Row-major strides of a contiguous tensor. */
    public static long[] contiguous(int[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= shape[i];
        }
        return st;
    }

    /** NumPy broadcasting of operand shapes to one output shape (aligned on the right). */
    public static int[] broadcastShape(int[]... shapes) {
        int rank = 0;
        for (int[] s : shapes) {
            rank = Math.max(rank, s.length);
        }
        int[] out = new int[rank];
        Arrays.fill(out, 1);
        for (int[] s : shapes) {
            for (int i = 0; i < s.length; i++) {
                int o = rank - s.length + i;
                if (s[i] != out[o] && s[i] != 1 && out[o] != 1) {
                    throw new IllegalArgumentException("Cannot broadcast shapes " + describe(shapes));
                }
                if (s[i] != 1) {
                    out[o] = s[i];
                }
            }
        }
        return out;
    }

    /** Strides that read a contiguous tensor of {@code shape} broadcast to {@code out} (0 on broadcast axes). */
    public static long[] broadcastStrides(int[] shape, int[] out) {
        long[] own = contiguous(shape);
        long[] st = new long[out.length];
        for (int i = 0; i < out.length; i++) {
            int j = i - (out.length - shape.length);
            st[i] = j < 0 || shape[j] == 1 ? 0 : own[j];
        }
        return st;
    }

    public long numel() {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /**
     * The same iteration in as few dimensions as possible: size-1 dimensions dropped, and dimension i
     * merged into i + 1 wherever every operand has stride[i] = stride[i + 1] · shape[i + 1].
     */
    public StridedLayout collapsed() {
        List<Integer> dims = new ArrayList<>();
        List<List<Long>> st = new ArrayList<>();
        for (int k = 0; k < strides.size(); k++) {
            st.add(new ArrayList<>());
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1) {
                continue;
            }
            int last = dims.size() - 1;
            boolean merge = last >= 0;
            for (int k = 0; merge && k < strides.size(); k++) {
                merge = st.get(k).get(last) == strides.get(k)[i] * shape[i];
            }
            if (merge && (long) dims.get(last) * shape[i] <= Integer.MAX_VALUE) {
                dims.set(last, dims.get(last) * shape[i]);
                for (int k = 0; k < strides.size(); k++) {
                    st.get(k).set(last, strides.get(k)[i]);
                }
            } else {
                dims.add(shape[i]);
                for (int k = 0; k < strides.size(); k++) {
                    st.get(k).add(strides.get(k)[i]);
                }
            }
        }
        if (dims.isEmpty()) {
            dims.add(1);
            for (List<Long> s : st) {
                s.add(0L);
            }
        }
        int[] outShape = dims.stream().mapToInt(Integer::intValue).toArray();
        List<long[]> outStrides = new ArrayList<>();
        for (List<Long> s : st) {
            outStrides.add(s.stream().mapToLong(Long::longValue).toArray());
        }
        return new StridedLayout(outShape, outStrides);
    }

    private static String describe(int[][] shapes) {
        StringBuilder sb = new StringBuilder();
        for (int[] s : shapes) {
            sb.append(sb.length() == 0 ? "" : " and ").append(Arrays.toString(s));
        }
        return sb.toString();
    }
}
