package io.sparserender.engine.ops.reference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class Fp8RowsTest {
    @Test
    void eachRowsLargestMagnitudeMapsToTheFormatsMaximum() {
        float[] x = {0.5f, -2f, 1f, /* row 2 */ 0f, 0f, 0f, /* row 3 */ 3e-5f, -1e-7f, 1e-6f};
        Fp8Rows q = Fp8Rows.quantize(x, 3, 3);
        assertThat(q.codes()[1]).isEqualTo((byte) 0xFE);                  // -2 -> -448 · (2 / 448)
        assertThat(q.scales()[0]).isEqualTo(2f / 448f);
        assertThat(q.scales()[1]).as("a zero row keeps scale 1").isEqualTo(1f);
        assertThat(new byte[] {q.codes()[3], q.codes()[4], q.codes()[5]}).containsOnly((byte) 0);
        assertThat(q.codes()[6]).isEqualTo((byte) 0x7E);
        assertThat(q.value(2, 0)).as("the largest element comes back to within float rounding").isCloseTo(3e-5, within(1e-11));
    }

    @Test
    void valuesStayWithinTheFormatsRelativeStep() {
        SplittableRandom r = new SplittableRandom(3);
        int rows = 17;
        int cols = 301;
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * Math.exp(r.nextDouble() * 6 - 3));
        }
        Fp8Rows q = Fp8Rows.quantize(x, rows, cols);
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < cols; c++) {
                double v = x[i * cols + c];
                double step = Math.max(Math.abs(v) / 16, 0x1p-10 * q.scales()[i]); // half a mantissa step, or of a subnormal one
                assertThat(q.value(i, c)).as("(%d, %d)", i, c).isCloseTo(v, within(step * 1.0001));
            }
        }
    }

    @Test
    void productIsTheSumOverTheValuesTheCodesStandFor() {
        Fp8Rows a = Fp8Rows.quantize(new float[] {1f, 2f, -4f, 0.5f}, 2, 2);
        Fp8Rows b = Fp8Rows.quantize(new float[] {4f, 1f}, 1, 2);   // every value exact in E4M3 after its row's scaling
        double[] c = Fp8Rows.product(a, b, new float[] {10f});
        // exact but for the float scales (amax / 448 rounded)
        assertThat(c[0]).isCloseTo(10 + 1 * 4 + 2 * 1, within(1e-5));
        assertThat(c[1]).isCloseTo(10 + -4 * 4 + 0.5 * 1, within(1e-5));
        assertThatThrownBy(() -> Fp8Rows.product(a, Fp8Rows.quantize(new float[] {1f}, 1, 1), null))
                .hasMessageContaining("FP8 product of 2x2 and 1x1");
    }
}
