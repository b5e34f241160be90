package io.sparserender.engine.model.wan;

import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;

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

    public <T> Tables<T> tables(Ops<T> ops, int frames, int height, int width) {
        if (frames > maxPositions || height > maxPositions || width > maxPositions) {
            throw new IllegalArgumentException("Cannot apply RoPE to a token grid of " + frames + "×" + height + "×" + width
                    + ": each axis holds at most " + maxPositions + " positions");
        }
        int half = headDim / 2;
        int tokens = frames * height * width;
        float[] cos = new float[tokens * half];
        float[] sin = new float[tokens * half];
        double[] freqT = frequencies(pairsT);
        double[] freqH = frequencies(pairsH);
        double[] freqW = frequencies(pairsW);
        int l = 0;
        for (int f = 0; f < frames; f++) {
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++, l++) {
                    int o = l * half;
                    for (int j = 0; j < pairsT; j++) {
                        put(cos, sin, o + j, f * freqT[j]);
                    }
                    for (int j = 0; j < pairsH; j++) {
                        put(cos, sin, o + pairsT + j, y * freqH[j]);
                    }
                    for (int j = 0; j < pairsW; j++) {
                        put(cos, sin, o + pairsT + pairsH + j, x * freqW[j]);
                    }
                }
            }
        }
        return new Tables<>(ops.fromHost(new Tensor(cos, tokens, 1, half, 1)),
                ops.fromHost(new Tensor(sin, tokens, 1, half, 1)), frames, height, width);
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
