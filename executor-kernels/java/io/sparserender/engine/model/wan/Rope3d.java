package io.sparserender.engine.model.wan;

import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;
import java.util.List;

/**
 * Wan's 3D rotary position embedding. A head of width d is read as d/2 interleaved pairs
 * (x[2k], x[2k+1]); the first t/2 pairs rotate by the token's frame index, the next h/2 by its row,
 * the last w/2 by its column, with t = d − 4⌊d/6⌋ and h = w = 2⌊d/6⌋ (44/42/42 for d = 128). Each
 * axis has its own frequencies 1/10000^(2j/width), j &lt; width/2. Angles are computed in double,
 * as the reference computes its tables in float64.
 *
 * <p>Note: diffusers splits its tables as [d − 2⌊d/3⌋, ⌊d/3⌋, ⌊d/3⌋] columns, which equals the rule
 * above only when ⌊d/3⌋ = 2⌊d/6⌋ (d = 128, 96, 48, ...); this class follows the original Wan rule.
 */
public final class Rope3d {
    private static final double THETA = 10000.0;

    private final int headDim;
    private final int maxPositions;
    private final int pairsT;
    private final int pairsH;
    private final int pairsW;

    public Rope3d(int headDim, int maxPositions) {
        if (headDim % 2 != 0 || headDim < 6) {
            throw new IllegalArgumentException("Invalid RoPE head dim " + headDim + ": must be even and at least 6");
        }
        this.headDim = headDim;
        this.maxPositions = maxPositions;
        int hw = 2 * (headDim / 6);
        this.pairsT = (headDim - 2 * hw) / 2;
        this.pairsH = hw / 2;
        this.pairsW = hw / 2;
    }

    /** Rotary widths of the frame, row and column parts (in values, two per pair). */
    public int[] widths() {
        return new int[] {2 * pairsT, 2 * pairsH, 2 * pairsW};
    }

    /** cos and sin of every token's angle per pair, each [L, 1, d/2, 1], for an f×h×w token grid (row-major). */
    public record Tables<T>(T cos, T sin, int frames, int height, int width) {}

    /**
     * The tables of an f×h×w grid. Only the per-axis tables are computed on the host (cos and sin of
     * position × frequency for each axis: f·t/2 + h·h/2 + w·w/2 angles, a few thousand) and uploaded in one
     * copy; the backend broadcasts each over the other two axes and joins the three along the pair axis.
     * Computing all L·d/2 angles on the host (1.75 M cos/sin pairs at 27,280 tokens) took tens of
     * milliseconds per forward while the device sat idle.
     */
    public <T> Tables<T> tables(Ops<T> ops, int frames, int height, int width) {
        if (frames > maxPositions || height > maxPositions || width > maxPositions) {
            throw new IllegalArgumentException("Cannot apply RoPE to a token grid of " + frames + "×" + height + "×" + width
                    + ": each axis holds at most " + maxPositions + " positions");
        }
        int tokens = frames * height * width;
        int half = headDim / 2;
        AxisTable t = AxisTable.of(frames, pairsT);
        AxisTable y = AxisTable.of(height, pairsH);
        AxisTable x = AxisTable.of(width, pairsW);
        // one upload: [cos t | cos h | cos w | sin t | sin h | sin w]
        int nt = t.cos().length;
        int nh = y.cos().length;
        int nw = x.cos().length;
        int n = nt + nh + nw;
        float[] all = new float[2 * n];
        System.arraycopy(t.cos(), 0, all, 0, nt);
        System.arraycopy(y.cos(), 0, all, nt, nh);
        System.arraycopy(x.cos(), 0, all, nt + nh, nw);
        System.arraycopy(t.sin(), 0, all, n, nt);
        System.arraycopy(y.sin(), 0, all, n + nt, nh);
        System.arraycopy(x.sin(), 0, all, n + nt + nh, nw);
        T axes = ops.fromHost(new Tensor(all, all.length));
        T cos = ops.reshape(grid(ops, axes, 0, frames, height, width), tokens, 1, half, 1);
        T sin = ops.reshape(grid(ops, axes, n, frames, height, width), tokens, 1, half, 1);
        return new Tables<>(cos, sin, frames, height, width);
    }

    /**
     * [f, h, w, d/2] from the frame, row and column tables that start at {@code at} in {@code axes}: the frame
     * table broadcast over rows and columns, then the row table, then the column table.
     */
    private <T> T grid(Ops<T> ops, T axes, int at, int frames, int height, int width) {
        int nt = frames * pairsT;
        int nh = height * pairsH;
        int nw = width * pairsW;
        T perFrame = ops.reshape(ops.slice(axes, 0, at, at + nt), frames, 1, 1, pairsT);
        T perRow = ops.reshape(ops.slice(axes, 0, at + nt, at + nt + nh), 1, height, 1, pairsH);
        T perColumn = ops.reshape(ops.slice(axes, 0, at + nt + nh, at + nt + nh + nw), 1, 1, width, pairsW);
        T t = ops.add(perFrame, ops.zeros(1, height, width, 1));
        T y = ops.add(perRow, ops.zeros(frames, 1, width, 1));
        T x = ops.add(perColumn, ops.zeros(frames, height, 1, 1));
        return ops.concat(3, List.of(t, y, x));
    }

    /** cos and sin of position · frequency j for one axis, [positions, pairs] row-major. */
    private record AxisTable(float[] cos, float[] sin) {
        static AxisTable of(int positions, int pairs) {
            double[] freq = frequencies(pairs);
            float[] cos = new float[positions * pairs];
            float[] sin = new float[positions * pairs];
            for (int p = 0; p < positions; p++) {
                for (int j = 0; j < pairs; j++) {
                    put(cos, sin, p * pairs + j, p * freq[j]);
                }
            }
            return new AxisTable(cos, sin);
        }
    }

    /** Frequencies of one axis with {@code pairs} pairs (width 2·pairs): 1/θ^(2j/width). */
    private static double[] frequencies(int pairs) {
        double[] f = new double[pairs];
        for (int j = 0; j < pairs; j++) {
            f[j] = 1.0 / Math.pow(THETA, (2.0 * j) / (2.0 * pairs));
        }
        return f;
    }

    private static void put(float[] cos, float[] sin, int i, double angle) {
        cos[i] = (float) Math.cos(angle);
        sin[i] = (float) Math.sin(angle);
    }

    /**
     * RMS-normalises x [B, L, H·d] over its whole width (times gamma), splits the heads and rotates them:
     * {@link Ops#rmsNormRope}, one pass on backends that fuse it. x is given up (it may be overwritten).
     */
    public <T> T applyNormalized(Ops<T> ops, T x, T gamma, float eps, int heads, Tables<T> tables) {
        int[] s = ops.shape(x);
        if (s.length != 3 || heads <= 0 || s[2] != heads * headDim || s[1] != tables.frames() * tables.height() * tables.width()) {
            throw new IllegalArgumentException("Cannot apply RoPE: x " + java.util.Arrays.toString(s) + " is not [B, "
                    + tables.frames() * tables.height() * tables.width() + ", " + heads + "·" + headDim + "]");
        }
        return ops.rmsNormRope(x, gamma, eps, tables.cos(), tables.sin(), heads);
    }

    /** Rotates x [B, L, H, d] by the tables: (a, b) → (a·cos − b·sin, a·sin + b·cos) per pair. */
    public <T> T apply(Ops<T> ops, T x, Tables<T> tables) {
        int[] s = ops.shape(x);
        if (s.length != 4 || s[3] != headDim || s[1] != tables.frames() * tables.height() * tables.width()) {
            throw new IllegalArgumentException("Cannot apply RoPE: x " + java.util.Arrays.toString(s) + " is not [B, "
                    + tables.frames() * tables.height() * tables.width() + ", H, " + headDim + "]");
        }
        return ops.rope(x, tables.cos(), tables.sin());
    }
}
