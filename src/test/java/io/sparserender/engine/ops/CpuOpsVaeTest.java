package io.sparserender.engine.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.tensor.Tensor;
import io.sparserender.testing.CountingCpuOps;
import org.junit.jupiter.api.Test;

/** The VAE block of CpuOps against direct formulas written out index by index. */
class CpuOpsVaeTest {
    private final CpuOps ops = new CpuOps();

    @Test
    void conv3dMatchesDirectSum() {
        // awkward sizes: output channels not a multiple of 4, odd widths, time and space kernels, with and without padding
        int[][] cases = {
            {5, 4, 3, 7, 9, 7, 3, 3, 3, 1, 1},
            {3, 2, 1, 5, 6, 6, 1, 3, 3, 1, 1},
            {4, 8, 3, 3, 4, 4, 3, 1, 1, 0, 0},
            {6, 1, 2, 4, 3, 2, 1, 1, 1, 0, 0},
            {2, 3, 3, 70, 5, 9, 3, 3, 3, 1, 1},
            {3, 2, 3, 4, 2, 4, 3, 3, 3, 1, 1},
            {3, 2, 3, 4, 1, 8, 3, 3, 3, 1, 1},
            {4, 2, 1, 3, 6, 4, 1, 3, 3, 0, 1},
        };
        long seed = 10;
        for (int[] k : cases) {
            int c = k[0], t = k[2], h = k[3], w = k[4], o = k[5], kt = k[6], kh = k[7], kw = k[8], ph = k[9], pw = k[10];
            Tensor x = CpuOpsTest.random(seed++, c, t, h, w);
            Tensor wt = CpuOpsTest.random(seed++, o, c, kt, kh, kw);
            Tensor b = k[1] % 2 == 0 ? CpuOpsTest.random(seed++, o) : null;
            Tensor got = ops.conv3d(x, wt, b, ph, pw);
            Tensor want = naiveConv3d(x, wt, b, ph, pw);
            assertThat(got.shape()).containsExactly(want.shape());
            assertThat(CpuOpsTest.relL2(got.data(), want.data())).isLessThan(1e-6);
        }
    }

    @Test
    void conv3dRejectsMismatchedChannels() {
        assertThatThrownBy(() -> ops.conv3d(Tensor.zeros(3, 1, 4, 4), Tensor.zeros(2, 4, 1, 3, 3), null, 1, 1))
                .hasMessageStartingWith("Cannot apply conv3d: input Tensor[3, 1, 4, 4]");
    }

    static Tensor naiveConv3d(Tensor x, Tensor w, Tensor b, int ph, int pw) {
        int c = x.dim(0), t = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int o = w.dim(0), kt = w.dim(2), kh = w.dim(3), kw = w.dim(4);
        int to = t - kt + 1, ho = h + 2 * ph - kh + 1, wo = wd + 2 * pw - kw + 1;
        float[] out = new float[o * to * ho * wo];
        for (int oc = 0; oc < o; oc++) {
            for (int a = 0; a < to; a++) {
                for (int i = 0; i < ho; i++) {
                    for (int j = 0; j < wo; j++) {
                        double s = b == null ? 0 : b.data()[oc];
                        for (int ic = 0; ic < c; ic++) {
                            for (int dt = 0; dt < kt; dt++) {
                                for (int dh = 0; dh < kh; dh++) {
                                    for (int dw = 0; dw < kw; dw++) {
                                        int y = i + dh - ph, xx = j + dw - pw;
                                        if (y < 0 || y >= h || xx < 0 || xx >= wd) {
                                            continue;
                                        }
                                        s += (double) w.data()[(((oc * c + ic) * kt + dt) * kh + dh) * kw + dw]
                                                * x.data()[((ic * t + a + dt) * h + y) * wd + xx];
                                    }
                                }
                            }
                        }
                        out[((oc * to + a) * ho + i) * wo + j] = (float) s;
                    }
                }
            }
        }
        return new Tensor(out, o, to, ho, wo);
    }

    @Test
    void channelRmsNormNormalisesEachPositionOverChannels() {
        Tensor x = CpuOpsTest.random(3, 5, 2, 3, 4);
        Tensor g = CpuOpsTest.random(4, 5);
        Tensor beta = CpuOpsTest.random(5, 5);
        Tensor y = ops.channelRmsNorm(x, g, beta);
        int n = 2 * 3 * 4;
        for (int p = 0; p < n; p++) {
            double ss = 0;
            for (int c = 0; c < 5; c++) {
                ss += x.data()[c * n + p] * (double) x.data()[c * n + p];
            }
            for (int c = 0; c < 5; c++) {
                double want = x.data()[c * n + p] / Math.sqrt(ss) * Math.sqrt(5) * g.data()[c] + beta.data()[c];
                assertThat((double) y.data()[c * n + p]).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-5));
            }
        }
        // an all-zero position stays zero (F.normalize divides by max(norm, 1e-12)), plus beta
        Tensor zero = ops.channelRmsNorm(Tensor.zeros(2, 1), new Tensor(new float[] {1, 1}, 2), null);
        assertThat(zero.data()).containsExactly(0f, 0f);
    }

    @Test
    void nearestUpsampleRepeatsEachPixelTwiceEachWay() {
        Tensor x = new Tensor(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 2, 3);
        Tensor y = ops.upsampleNearest2x(x);
        assertThat(y.shape()).containsExactly(2, 4, 6);
        for (int c = 0; c < 2; c++) {
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 6; j++) {
                    assertThat(y.data()[(c * 4 + i) * 6 + j]).isEqualTo(x.data()[(c * 2 + i / 2) * 3 + j / 2]);
                }
            }
        }
    }

    @Test
    void repeatInterleaveAndClamp() {
        Tensor x = new Tensor(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertThat(ops.repeatInterleave(x, 0, 2).data()).containsExactly(1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6);
        assertThat(ops.repeatInterleave(x, 1, 2).data()).containsExactly(1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6);
        assertThat(ops.clamp(new Tensor(new float[] {-3, -0.5f, 0.25f, 7}, 4), -1, 1).data())
                .containsExactly(-1, -0.5f, 0.25f, 1);
        assertThat(ops.zeros(2, 3).shape()).containsExactly(2, 3);
    }

    @Test
    void defaultVaeOpsRunOnTheHostForBackendsWithoutKernels() {
        // a backend with no VAE kernels of its own: every other Ops method delegates to CpuOps
        CountingCpuOps backend = new CountingCpuOps();
        Tensor x = CpuOpsTest.random(20, 3, 3, 5, 6);
        Tensor w = CpuOpsTest.random(21, 5, 3, 3, 3, 3);
        assertThat(backend.conv3d(x, w, null, 1, 1).data()).containsExactly(ops.conv3d(x, w, null, 1, 1).data());
        Tensor g = CpuOpsTest.random(22, 3);
        assertThat(backend.channelRmsNorm(x, g, null).data()).containsExactly(ops.channelRmsNorm(x, g, null).data());
        assertThat(backend.upsampleNearest2x(x).data()).containsExactly(ops.upsampleNearest2x(x).data());
        assertThat(backend.repeatInterleave(x, 1, 3).data()).containsExactly(ops.repeatInterleave(x, 1, 3).data());
        assertThat(backend.clamp(x, -0.5f, 0.5f).data()).containsExactly(ops.clamp(x, -0.5f, 0.5f).data());
        assertThat(backend.zeros(2, 2).data()).containsExactly(0, 0, 0, 0);
        assertThat(backend.uploads).isEqualTo(6); // each went through the host fallback
    }
}
