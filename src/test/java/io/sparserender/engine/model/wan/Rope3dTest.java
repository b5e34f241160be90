package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class Rope3dTest {
    final CpuOps ops = new CpuOps();

    @Test
    void widthsFollowTheOriginalSplit() {
        assertThat(new Rope3d(128, 1024).widths()).containsExactly(44, 42, 42);
        assertThat(new Rope3d(64, 1024).widths()).containsExactly(24, 20, 20);
    }

    @Test
    void rotatesEachPairByItsAxisAngle() {
        Rope3d rope = new Rope3d(12, 1024); // widths 4/4/4: two pairs per axis
        Rope3d.Tables<Tensor> t = rope.tables(ops, 2, 3, 4);
        Tensor x = WanPresetTest.random(new SplittableRandom(3), 1, 24, 1, 12);
        Tensor y = rope.apply(ops, x, t);
        int token = (1 * 3 + 2) * 4 + 3; // frame 1, row 2, column 3
        double[] pos = {1, 2, 3};
        for (int p = 0; p < 6; p++) {
            int axis = p / 2;
            int j = p % 2;
            double angle = pos[axis] * Math.pow(10000, -2.0 * j / 4);
            double a = x.data()[token * 12 + 2 * p];
            double b = x.data()[token * 12 + 2 * p + 1];
            assertThat((double) y.data()[token * 12 + 2 * p]).isCloseTo(a * Math.cos(angle) - b * Math.sin(angle), within(1e-6));
            assertThat((double) y.data()[token * 12 + 2 * p + 1]).isCloseTo(a * Math.sin(angle) + b * Math.cos(angle), within(1e-6));
        }
    }

    @Test
    void tablesHoldEveryTokensAnglesBitForBit() {
        // the broadcast-and-join tables against the direct per-token, per-pair rule, computed in double here
        for (int headDim : new int[] {128, 64, 12}) {
            Rope3d rope = new Rope3d(headDim, 1024);
            int[] w = rope.widths();
            int frames = 3, height = 5, width = 7;
            Rope3d.Tables<Tensor> t = rope.tables(ops, frames, height, width);
            int half = headDim / 2;
            assertThat(t.cos().shape()).containsExactly(frames * height * width, 1, half, 1);
            assertThat(t.sin().shape()).containsExactly(frames * height * width, 1, half, 1);
            for (int f = 0; f < frames; f++) {
                for (int y = 0; y < height; y++) {
                    for (int x = 0; x < width; x++) {
                        int token = (f * height + y) * width + x;
                        for (int p = 0; p < half; p++) {
                            int axis = p < w[0] / 2 ? 0 : p < (w[0] + w[1]) / 2 ? 1 : 2;
                            int j = p - (axis == 0 ? 0 : axis == 1 ? w[0] / 2 : (w[0] + w[1]) / 2);
                            int pos = axis == 0 ? f : axis == 1 ? y : x;
                            double angle = pos * (1.0 / Math.pow(10000.0, (2.0 * j) / w[axis]));
                            String at = "head dim " + headDim + ", token (" + f + "," + y + "," + x + "), pair " + p;
                            assertThat(t.cos().data()[token * half + p]).as(at).isEqualTo((float) Math.cos(angle));
                            assertThat(t.sin().data()[token * half + p]).as(at).isEqualTo((float) Math.sin(angle));
                        }
                    }
                }
            }
        }
    }

    @Test
    void scoresDependOnlyOnTheOffsetBetweenTokens() {
        Rope3d rope = new Rope3d(128, 1024);
        Rope3d.Tables<Tensor> t = rope.tables(ops, 3, 3, 3);
        SplittableRandom r = new SplittableRandom(5);
        float[] q = new float[128];
        float[] k = new float[128];
        for (int i = 0; i < 128; i++) {
            q[i] = (float) r.nextGaussian();
            k[i] = (float) r.nextGaussian();
        }
        // the same q at (0,0,0) and (1,1,1), the same k at (1,2,0) and (2,3,1): both offsets are (1,2,0)
        double s1 = dot(rotated(rope, t, q, 0, 0, 0), rotated(rope, t, k, 1, 2, 0));
        double s2 = dot(rotated(rope, t, q, 1, 1, 1), rotated(rope, t, k, 2, 3, 1));
        assertThat(s2).isCloseTo(s1, within(1e-3 * Math.abs(s1) + 1e-4));
        double s3 = dot(rotated(rope, t, q, 0, 0, 0), rotated(rope, t, k, 2, 2, 0));
        assertThat(Math.abs(s3 - s1)).isGreaterThan(1e-3);
    }

    private float[] rotated(Rope3d rope, Rope3d.Tables<Tensor> t, float[] v, int f, int h, int w) {
        Tensor x = Tensor.zeros(1, 27, 1, 128);
        int token = (f * 3 + h) * 3 + w;
        if (f > 2 || h > 2 || w > 2) {
            // outside the 3×3×3 grid: use a bigger table
            Rope3d.Tables<Tensor> big = rope.tables(ops, 4, 4, 4);
            Tensor xb = Tensor.zeros(1, 64, 1, 128);
            int tb = (f * 4 + h) * 4 + w;
            System.arraycopy(v, 0, xb.data(), tb * 128, 128);
            float[] out = new float[128];
            System.arraycopy(rope.apply(ops, xb, big).data(), tb * 128, out, 0, 128);
            return out;
        }
        System.arraycopy(v, 0, x.data(), token * 128, 128);
        float[] out = new float[128];
        System.arraycopy(rope.apply(ops, x, t).data(), token * 128, out, 0, 128);
        return out;
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }
}
