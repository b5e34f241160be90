package io.sparserender.engine.ops.reference;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class Fp8E4M3Test {
    @Test
    void decodesTheFormatsLandmarks() {
        assertThat(Fp8E4M3.decode((byte) 0x00)).isEqualTo(0f);
        assertThat(Float.floatToRawIntBits(Fp8E4M3.decode((byte) 0x80))).isEqualTo(Float.floatToRawIntBits(-0f));
        assertThat(Fp8E4M3.decode((byte) 0x01)).isEqualTo(0x1p-9f);         // smallest subnormal
        assertThat(Fp8E4M3.decode((byte) 0x07)).isEqualTo(7 * 0x1p-9f);     // largest subnormal
        assertThat(Fp8E4M3.decode((byte) 0x08)).isEqualTo(0x1p-6f);         // smallest normal
        assertThat(Fp8E4M3.decode((byte) 0x38)).isEqualTo(1f);
        assertThat(Fp8E4M3.decode((byte) 0x39)).isEqualTo(1.125f);
        assertThat(Fp8E4M3.decode((byte) 0x7E)).isEqualTo(448f);
        assertThat(Fp8E4M3.decode((byte) 0xFE)).isEqualTo(-448f);
        assertThat(Fp8E4M3.decode((byte) 0x7F)).isNaN();
        assertThat(Fp8E4M3.decode((byte) 0xFF)).isNaN();
    }

    @Test
    void everyCodeRoundTripsAndTheCodesAreOrdered() {
        float previous = -1f;
        for (int c = 0; c < 0x7F; c++) {
            float v = Fp8E4M3.decode((byte) c);
            assertThat(Fp8E4M3.encode(v)).as("code 0x%02x (%s)", c, v).isEqualTo((byte) c);
            assertThat(Fp8E4M3.encode(-v)).as("code 0x%02x negated", c).isEqualTo((byte) (c | 0x80));
            assertThat(v).as("code 0x%02x after the one before", c).isGreaterThan(previous);
            previous = v;
        }
    }

    @Test
    void roundsToNearestTiesToEvenAndSaturates() {
        assertThat(Fp8E4M3.encode(1.0625f)).as("tie between 1 and 1.125 -> even 1").isEqualTo((byte) 0x38);
        assertThat(Fp8E4M3.encode(1.1875f)).as("tie between 1.125 and 1.25 -> even 1.25").isEqualTo((byte) 0x3A);
        assertThat(Fp8E4M3.encode(1.07f)).isEqualTo((byte) 0x39);
        assertThat(Fp8E4M3.encode(0x1p-10f)).as("half the smallest subnormal -> 0").isEqualTo((byte) 0x00);
        assertThat(Fp8E4M3.encode(3 * 0x1p-10f)).as("1.5 subnormal steps -> 2").isEqualTo((byte) 0x02);
        assertThat(Fp8E4M3.encode(15 * 0x1p-10f)).as("7.5 subnormal steps -> the smallest normal").isEqualTo((byte) 0x08);
        assertThat(Fp8E4M3.encode(440f)).isEqualTo((byte) 0x7E);
        assertThat(Fp8E4M3.encode(1e6f)).isEqualTo((byte) 0x7E);
        assertThat(Fp8E4M3.encode(Float.NEGATIVE_INFINITY)).isEqualTo((byte) 0xFE);
        assertThat(Fp8E4M3.encode(Float.NaN)).isEqualTo((byte) 0x7F);
        assertThat(Fp8E4M3.encode(-0f)).isEqualTo((byte) 0x80);
    }

    @Test
    void theCodeIsTheNearestRepresentableValue() {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            float v = (float) ((r.nextDouble() * 2 - 1) * Math.scalb(1.0, r.nextInt(-12, 9)));
            float got = Fp8E4M3.decode(Fp8E4M3.encode(v));
            double err = Math.abs((double) got - v);
            for (int c = 0; c < 0xFF; c++) {
                float other = Fp8E4M3.decode((byte) c);
                if (!Float.isNaN(other)) {
                    assertThat(err).as("%s coded as %s, but %s is nearer", v, got, other).isLessThanOrEqualTo(Math.abs((double) other - v));
                }
            }
        }
    }
}
