package io.sparserender.engine.ops.reference;

/**
 * The FP8 E4M3 format of Hopper's tensor cores (OCP "E4M3FN"): 1 sign bit, 4 exponent bits (bias 7), 3 mantissa
 * bits; subnormals down to 2⁻⁹; largest finite ±448 (0x7E / 0xFE); no infinities; 0x7F / 0xFF are NaN.
 * {@link #encode} is the CUDA conversion {@code __nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3)}
 * (PTX {@code cvt.rn.satfinite.e4m3x2.f32}): round to nearest, ties to even, magnitudes past 448 (infinities
 * included) saturate to ±448, NaN gives 0x7F.
 */
public final class Fp8E4M3 {
    /** The largest finite magnitude. */
    public static final float MAX = 448f;

    private static final byte NAN = 0x7F;

    private Fp8E4M3() {}

    /** The code of {@code v}, rounded to nearest even, saturated to ±448. */
    public static byte encode(float v) {
        if (Float.isNaN(v)) {
            return NAN;
        }
        int sign = (Float.floatToRawIntBits(v) >>> 31) << 7;
        double a = Math.abs((double) v);
        if (a >= MAX) {
            return (byte) (sign | 0x7E);
        }
        if (a < 0x1p-6) {
            // subnormal range: multiples of 2^-9; 8 · 2^-9 is the smallest normal, code 0x08, which the same sum gives
            long m = (long) Math.rint(a * 0x1p9);
            return (byte) (sign | (int) m);
        }
        int e = Math.getExponent(a);                // 2^e ≤ a < 2^(e+1), e in [-6, 8]
        long q = (long) Math.rint(a * Math.scalb(1.0, 3 - e));   // in [8, 16]: 1.mmm × 8, the exact scaling is a power of 2
        if (q == 16) {
            q = 8;
            e++;
        }
        if (e > 8 || (e == 8 && q > 14)) {
            return (byte) (sign | 0x7E);            // rounded past 448 (from below 448 cannot happen: 448 = 14 · 2^5)
        }
        return (byte) (sign | ((e + 7) << 3) | (int) (q - 8));
    }

    /** The value of a code (NaN for 0x7F and 0xFF). */
    public static float decode(byte code) {
        int c = code & 0xFF;
        float sign = (c & 0x80) != 0 ? -1f : 1f;
        int exp = (c >>> 3) & 0xF;
        int man = c & 0x7;
        if (exp == 0xF && man == 0x7) {
            return Float.NaN;
        }
        if (exp == 0) {
            return sign * man * 0x1p-9f;
        }
        return sign * (8 + man) * (float) Math.scalb(1.0, exp - 7 - 3);
    }
}
