package io.sparserender.engine.ops.reference;

import io.sparserender.engine.tensor.HalfFloats;

/** Java twins of {@code convert.cu}: float32 <-> bf16, round to nearest even. */
public final class Convert {
    private Convert() {}

    public static short[] f32ToBf16(float[] x) {
        short[] out = new short[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = HalfFloats.floatToBf16(x[i]);
        }
        return out;
    }

    public static float[] bf16ToF32(short[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = HalfFloats.bf16ToFloat(x[i]);
        }
        return out;
    }
}
