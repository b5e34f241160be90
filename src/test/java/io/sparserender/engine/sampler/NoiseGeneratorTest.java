package io.sparserender.engine.sampler;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.tensor.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class NoiseGeneratorTest {
    @Test
    void philoxMatchesRandom123KnownAnswers() {
        int[] out = new int[4];
        Philox4x32.block(0, 0, 0, 0, 0, 0, out);
        assertThat(out).containsExactly(0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8);
        Philox4x32.block(-1, -1, -1, -1, -1, -1, out);
        assertThat(out).containsExactly(0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd);
        Philox4x32.block(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
        assertThat(out).containsExactly(0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1);
    }

    @Test
    void sameSeedSameBitsDifferentSeedsDiffer() {
        Tensor a = NoiseGenerator.normal(42L, 2, 3, 5, 7);
        Tensor b = NoiseGenerator.normal(42L, 2, 3, 5, 7);
        Tensor c = NoiseGenerator.normal(43L, 2, 3, 5, 7);
        Tensor d = NoiseGenerator.normal(42L | (1L << 32), 2, 3, 5, 7);
        assertThat(a.data()).containsExactly(b.data());
        assertThat(differing(a.data(), c.data())).isGreaterThan(a.numel() - 3);
        assertThat(differing(a.data(), d.data())).as("the seed's high word is part of the key").isGreaterThan(a.numel() - 3);
        assertThat(differing(a.data(), NoiseGenerator.normalStream(42L, 1, 2, 3, 5, 7).data())).isGreaterThan(a.numel() - 3);
    }

    /** A tensor large enough to be made in parallel chunks (odd length, not a multiple of a chunk or a block of 4) equals the stream made in one piece. */
    @Test
    void aLargeTensorIsTheStreamInOnePiece() {
        int[] shape = {5, 3, 17477}; // 262,155 elements
        Tensor t = NoiseGenerator.normal(7L, shape);
        double[] serial = NoiseGenerator.normals(7L, 0, 0, 262_155);
        float[] want = new float[serial.length];
        for (int i = 0; i < want.length; i++) {
            want[i] = (float) serial[i];
        }
        assertThat(t.data()).containsExactly(want);
    }

    @Test
    void sliceEqualsSliceOfWhole() {
        double[] whole = NoiseGenerator.normals(7L, 0, 0, 103);
        double[] part = NoiseGenerator.normals(7L, 0, 37, 50);
        assertThat(part).containsExactly(Arrays.copyOfRange(whole, 37, 87));
    }

    @Test
    void firstValuesFollowTheDocumentedDefinition() {
        int[] w = new int[4];
        Philox4x32.block(0, 0, 0, 0, 5, 0, w);
        double r = Math.sqrt(-2 * Math.log(((w[0] & 0xFFFFFFFFL) + 0.5) / 4294967296.0));
        double theta = 2 * Math.PI * ((w[1] & 0xFFFFFFFFL) + 0.5) / 4294967296.0;
        double[] got = NoiseGenerator.normals(5L, 0, 0, 2);
        assertThat(got[0]).isCloseTo(r * Math.cos(theta), org.assertj.core.data.Offset.offset(1e-12));
        assertThat(got[1]).isCloseTo(r * Math.sin(theta), org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void momentsAreStandardNormal() {
        double[] x = NoiseGenerator.normals(123L, 0, 0, 200_000);
        double mean = 0;
        double sq = 0;
        double q4 = 0;
        for (double v : x) {
            mean += v;
            sq += v * v;
            q4 += v * v * v * v;
        }
        mean /= x.length;
        sq /= x.length;
        q4 /= x.length;
        assertThat(mean).isBetween(-0.01, 0.01);
        assertThat(sq).isBetween(0.98, 1.02);
        assertThat(q4).isBetween(2.9, 3.1);
    }

    private static int differing(float[] a, float[] b) {
        int n = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] != b[i]) {
                n++;
            }
        }
        return n;
    }
}
