package io.sparserender.engine.ops.reference;

/** Java twins of {@code elementwise.cu}: plain float32 loops, the readable reference. */
public final class Elementwise {
    private Elementwise() {}

    public static float[] add(float[] a, float[] b) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] + b[i];
        }
        return out;
    }

    public static float[] scale(float[] x, float s) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * s;
        }
        return out;
    }

    /** x * sigmoid(x). */
    public static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    /** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), torch's approximate='tanh'. */
    public static float geluTanh(float x) {
        double u = Math.sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x);
        return (float) (0.5 * x * (1.0 + Math.tanh(u)));
    }

    public static float[] silu(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = silu(x[i]);
        }
        return out;
    }

    public static float[] geluTanh(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = geluTanh(x[i]);
        }
        return out;
    }
}
