package io.sparserender.engine.ops.reference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The Java twins on values worked out by hand (they are the oracle of the gpu tests). */
class ReferenceOpsTest {
    @Test
    void activations() {
        assertThat(Elementwise.silu(0f)).isZero();
        assertThat(Elementwise.silu(1f)).isCloseTo(0.7310586f, within(1e-7f));
        assertThat(Elementwise.silu(-20f)).isCloseTo(-4.122307e-8f, within(1e-12f));
        assertThat(Elementwise.geluTanh(1f)).isCloseTo(0.8411920f, within(1e-7f));
        assertThat(Elementwise.geluTanh(-3f)).isCloseTo(-0.0036373f, within(1e-7f));
        assertThat(Elementwise.add(new float[] {1, 2}, new float[] {3, -5})).containsExactly(4f, -3f);
        assertThat(Elementwise.scale(new float[] {1, -2}, 0.5f)).containsExactly(0.5f, -1f);
    }

    @Test
    void norms() {
        float s = (float) Math.sqrt(1.5);
        assertThat(LayerNorm.apply(new float[] {1, 2, 3, 5, 5, 5}, 2, 3, null, null, 1e-6f))
                .containsExactly(new float[] {-s, 0, s, 0, 0, 0}, within(1e-5f)); // a constant row: 0, not NaN
        assertThat(LayerNorm.apply(new float[] {1, 3}, 1, 2, new float[] {2, 3}, new float[] {1, 1}, 0f))
                .containsExactly(new float[] {-1, 4}, within(1e-6f));
        float r = (float) (1 / Math.sqrt(12.5));
        assertThat(RmsNorm.apply(new float[] {3, 4}, 1, 2, new float[] {1, 2}, 0f))
                .containsExactly(new float[] {3 * r, 8 * r}, within(1e-6f));
    }

    @Test
    void softmaxAndConvertAndGemm() {
        assertThat(SoftmaxRows.apply(new float[] {0, (float) Math.log(2), 1000, 1000}, 2, 2))
                .containsExactly(new float[] {1 / 3f, 2 / 3f, 0.5f, 0.5f}, within(1e-6f));
        assertThat(Convert.f32ToBf16(new float[] {1f, 1.00390625f, 1.01171875f}))
                .containsExactly((short) 0x3F80, (short) 0x3F80, (short) 0x3F82);
        // [[1,2],[3,4]] . [[5,6],[7,8]]^T = [[17,23],[39,53]]
        assertThat(GemmBf16.apply(new float[] {1, 2, 3, 4}, new float[] {5, 6, 7, 8}, 2, 2, 2, 1f))
                .containsExactly(17f, 23f, 39f, 53f);
    }
}
