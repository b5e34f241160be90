package io.sparserender.engine.ops;

import java.util.Arrays;

/** NumPy broadcasting of two shapes: the output shape and, per operand, strides with 0 on broadcast axes. */
record Broadcast(int[] shape, int[] stridesA, int[] stridesB) {
    static Broadcast of(int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = dimFromRight(a, rank - 1 - i);
            int db = dimFromRight(b, rank - 1 - i);
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException("Cannot broadcast shapes " + Arrays.toString(a) + " and " + Arrays.toString(b));
            }
            out[i] = da == 1 ? db : da;
        }
        return new Broadcast(out, strides(a, out), strides(b, out));
    }

    private static int dimFromRight(int[] s, int fromRight) {
        int i = s.length - 1 - fromRight;
        return i >= 0 ? s[i] : 1;
    }

    private static int[] strides(int[] s, int[] out) {
        int[] st = new int[out.length];
        int stride = 1;
        for (int i = out.length - 1; i >= 0; i--) {
            int j = i - (out.length - s.length);
            int d = j >= 0 ? s[j] : 1;
            st[i] = d == 1 ? 0 : stride;
            stride *= d;
        }
        return st;
    }
}
