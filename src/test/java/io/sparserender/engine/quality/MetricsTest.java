package io.sparserender.engine.quality;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** PSNR, luma, flicker and latent relative L2 on hand-computable inputs. */
class MetricsTest {
    private static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) value);
        return b;
    }

    @Test
    void psnrIsInfiniteForIdenticalFramesAndFollowsTheMeanSquaredError() {
        Psnr same = new Psnr();
        same.add(filled(12, 7), filled(12, 7));
        assertThat(same.db()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(new Psnr().db()).isNaN();

        // one byte off by 1 among 2 frames × 4 pixels × 3 channels: MSE = 1/24
        Psnr one = new Psnr();
        byte[] a = filled(12, 100);
        byte[] b = filled(12, 100);
        b[5] = 101;
        one.add(a, filled(12, 100));
        one.add(b, filled(12, 100));
        assertThat(one.mse()).isEqualTo(1.0 / 24);
        assertThat(one.db()).isCloseTo(10 * Math.log10(255.0 * 255.0 * 24), within(1e-12));
        assertThat(one.db()).isCloseTo(61.93292, within(1e-5));

        Psnr worst = new Psnr();
        worst.add(filled(3, 0), filled(3, 255)); // bytes compare unsigned: 255 is not −1
        assertThat(worst.mse()).isEqualTo(255.0 * 255.0);
        assertThat(worst.db()).isZero();
        assertThatThrownBy(() -> worst.add(new byte[3], new byte[6])).hasMessage("Cannot compare frames of 3 and 6 bytes");
    }

    @Test
    void lumaUsesBt601Weights() {
        byte[] rgb = {(byte) 255, 0, 0, 0, (byte) 255, 0, 0, 0, (byte) 255, (byte) 255, (byte) 255, (byte) 255};
        double[] y = Luma.of(rgb, 2, 2);
        assertThat(y[0]).isCloseTo(76.245, within(1e-12));
        assertThat(y[1]).isCloseTo(149.685, within(1e-12));
        assertThat(y[2]).isCloseTo(29.07, within(1e-12));
        assertThat(y[3]).isCloseTo(255.0, within(1e-12));
        assertThatThrownBy(() -> Luma.of(new byte[11], 2, 2))
                .hasMessage("Invalid RGB24 frame: 11 bytes for 2x2, expected 12");
    }

    @Test
    void flickerIsTheMeanAbsoluteLumaChangeBetweenConsecutiveFrames() {
        Flicker still = new Flicker();
        still.add(new double[] {5, 9});
        assertThat(still.score()).isNaN(); // one frame: undefined
        still.add(new double[] {5, 9});
        assertThat(still.score()).isZero();

        Flicker f = new Flicker();
        f.add(new double[] {10, 10});
        f.add(new double[] {20, 0});  // |10| + |−10| over 2 pixels
        f.add(new double[] {40, 30}); // |20| + |30|
        assertThat(f.score()).isEqualTo((10 + 10 + 20 + 30) / 4.0);

        Flicker strobe = new Flicker();
        for (int t = 0; t < 5; t++) {
            strobe.add(new double[] {t % 2 == 0 ? 0 : 255});
        }
        assertThat(strobe.score()).isEqualTo(255.0);
    }

    @Test
    void relativeL2OfLatents() {
        assertThat(RelativeL2.of(new float[] {1, -2, 3}, new float[] {1, -2, 3})).isZero();
        assertThat(RelativeL2.of(new float[] {3, 5}, new float[] {3, 4})).isCloseTo(0.2, within(1e-15));
        assertThat(RelativeL2.of(new float[] {2, 4}, new float[] {1, 2})).isCloseTo(1.0, within(1e-15));
        assertThat(RelativeL2.of(new float[] {0, 0}, new float[] {0, 0})).isZero();
        assertThat(RelativeL2.of(new float[] {1, 0}, new float[] {0, 0})).isEqualTo(Double.POSITIVE_INFINITY);
        assertThatThrownBy(() -> RelativeL2.of(new float[2], new float[3]))
                .hasMessage("Cannot compare vectors of 2 and 3 values");
    }
}
