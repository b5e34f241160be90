package io.sparserender.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class VideoLikeInputsTest {
    @Test
    void ropeScoresDependOnRelativePositionOnly() {
        Rope3d rope = new Rope3d(128);
        Random rnd = new Random(1);
        double[] x = new double[128];
        double[] y = new double[128];
        for (int i = 0; i < 128; i++) {
            x[i] = rnd.nextGaussian();
            y[i] = rnd.nextGaussian();
        }
        double a = dot(rotated(rope, x, 1, 2, 3), rotated(rope, y, 4, 0, 7));
        double b = dot(rotated(rope, x, 5, 12, 20), rotated(rope, y, 8, 10, 24));
        assertThat(a).isCloseTo(b, within(1e-9));
        assertThat(dot(rotated(rope, x, 9, 9, 9), rotated(rope, x, 9, 9, 9))).isCloseTo(dot(x, x), within(1e-9));
        // Wan's split for d = 128: 44 dims by frame, 42 by row, 42 by column; the first pair turns by the frame.
        double[] e0 = new double[128];
        e0[0] = 1;
        double[] turned = rotated(rope, e0, 1, 0, 0);
        assertThat(turned[0]).isCloseTo(Math.cos(1), within(1e-12));
        assertThat(turned[1]).isCloseTo(Math.sin(1), within(1e-12));
        double[] e44 = new double[128];
        e44[44] = 1;
        assertThat(rotated(rope, e44, 1, 0, 0)[44]).isEqualTo(1.0);
        assertThat(rotated(rope, e44, 0, 1, 0)[45]).isCloseTo(Math.sin(1), within(1e-12));
    }

    @Test
    void attentionIsLocalAndSharperWithPeak() {
        VideoGrid grid = new VideoGrid(3, 8, 16);
        double broad = nearMass(VideoLikeInputs.videoLike(1, grid, 1, 64, VideoLikeInputs.Knobs.defaults().withPeak(4), 3), grid);
        double sharp = nearMass(VideoLikeInputs.videoLike(1, grid, 1, 64, VideoLikeInputs.Knobs.defaults().withPeak(24), 3), grid);
        QkvInput random = VideoLikeInputs.random(1, grid.tokens(), 1, 64, 1, 3);
        double uniform = nearMass(random, grid);
        assertThat(broad).as("peak 4 vs random").isGreaterThan(1.3 * uniform);
        assertThat(sharp).as("peak 24 vs peak 4").isGreaterThan(2 * broad);
    }

    @Test
    void sameSeedSameInputs() {
        VideoGrid grid = new VideoGrid(2, 4, 4);
        QkvInput a = VideoLikeInputs.videoLike(2, grid, 2, 64, VideoLikeInputs.Knobs.defaults(), 9);
        QkvInput b = VideoLikeInputs.videoLike(2, grid, 2, 64, VideoLikeInputs.Knobs.defaults(), 9);
        assertThat(a.q().data()).containsExactly(b.q().data());
        assertThat(a.k().data()).containsExactly(b.k().data());
    }

    /** Mean over rows of the softmax mass on keys within distance 2 (frames, rows, columns alike). */
    private static double nearMass(QkvInput in, VideoGrid grid) {
        DenseReference ref = DenseReference.compute(in, 1); // kv-tiles of one key: per-key masses
        double sum = 0;
        for (int i = 0; i < grid.tokens(); i++) {
            for (int j = 0; j < grid.tokens(); j++) {
                int df = grid.frameOf(i) - grid.frameOf(j);
                int dr = grid.rowOf(i) - grid.rowOf(j);
                int dc = grid.colOf(i) - grid.colOf(j);
                if (df * df + dr * dr + dc * dc <= 4) {
                    sum += ref.rowTileMass(0, 0, i, j);
                }
            }
        }
        return sum / grid.tokens();
    }

    private static double[] rotated(Rope3d rope, double[] x, int f, int r, int c) {
        double[] y = x.clone();
        rope.apply(y, f, r, c);
        return y;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}
