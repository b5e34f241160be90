package io.sparserender.engine.tensor;

/**
 * Conversions between float32 and the two 16-bit float formats (bf16, IEEE fp16), round to nearest
 * even. Java 17 has no {@code Float.floatToFloat16}; these are the plain bit manipulations.
 */
public final class HalfFloats {
    private HalfFloats() {}

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((x >>> 16) | 0x0040); // quiet NaN, sign kept
        }
        int rounding = 0x7FFF + ((x >>> 16) & 1);
        return (short) ((x + rounding) >>> 16);
    }

    /** The float32 nearest to {@code f} that bf16 can hold. */
    public static float roundToBf16(float f) {
        return bf16ToFloat(floatToBf16(f));
    }

    public static float f16ToFloat(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            // subnormal: value = mant * 2^-24
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    public static short floatToF16(float f) {
        int x = Float.floatToRawIntBits(f);
        int sign = (x >>> 16) & 0x8000;
        int abs = x & 0x7FFFFFFF;
        if (abs >= 0x7F800000) { // Inf or NaN
            return (short) (sign | 0x7C00 | (abs > 0x7F800000 ? 0x200 : 0));
        }
        if (abs >= 0x477FF000) { // rounds to >= 65520: overflow to infinity
            return (short) (sign | 0x7C00);
        }
        if (abs < 0x38800000) { // below the smallest normal half: subnormal or zero
            float v = Float.intBitsToFloat(abs) * 0x1p24f; // in units of 2^-24
            return (short) (sign | (int) Math.rint(v)); // rint: ties to even; 1024 becomes the smallest normal

        }
        int exp = ((abs >>> 23) - 112) << 10;
        int mant = abs & 0x7FFFFF;
        int half = exp | (mant >>> 13);
        int rest = mant & 0x1FFF;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1)) {
            half++;
        }
        return (short) (sign | half);
    }
}
