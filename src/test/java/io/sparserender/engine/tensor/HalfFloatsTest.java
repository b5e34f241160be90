package io.sparserender.engine.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HalfFloatsTest {
    @Test
    void bf16RoundTripsEveryBitPatternExceptNaNPayloads() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = HalfFloats.bf16ToFloat((short) bits);
            if (!Float.isNaN(f)) {
                assertThat(HalfFloats.floatToBf16(f) & 0xFFFF).isEqualTo(bits);
            }
        }
    }

    @Test
    void f16RoundTripsEveryBitPatternExceptNaNPayloads() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = HalfFloats.f16ToFloat((short) bits);
            if (!Float.isNaN(f)) {
                assertThat(HalfFloats.floatToF16(f) & 0xFFFF).as("f16 bits %x", bits).isEqualTo(bits);
            }
        }
    }

    @Test
    void roundingIsToNearestEven() {
        // 1 + 2^-8 lies halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to the even one (1).
        assertThat(HalfFloats.roundToBf16(1f + 0x1p-8f)).isEqualTo(1f);
        assertThat(HalfFloats.roundToBf16(1f + 3 * 0x1p-8f)).isEqualTo(1f + 0x1p-6f);
        assertThat(HalfFloats.f16ToFloat(HalfFloats.floatToF16(1f + 0x1p-11f))).isEqualTo(1f);
        assertThat(HalfFloats.f16ToFloat(HalfFloats.floatToF16(70000f))).isInfinite();
    }

    @Test
    void conversionsAreTheNearestRepresentableValue() {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 100_000; i++) {
            float f = (float) (r.nextDouble(-1, 1) * Math.pow(2, r.nextInt(-20, 15)));
            float b = HalfFloats.roundToBf16(f);
            assertThat(Math.abs(b - f)).isLessThanOrEqualTo(Math.abs(f) * 0x1p-8f);
            float h = HalfFloats.f16ToFloat(HalfFloats.floatToF16(f));
            assertThat(Math.abs(h - f)).isLessThanOrEqualTo(Math.max(Math.abs(f) * 0x1p-11f, 0x1p-25f));
        }
    }
}
