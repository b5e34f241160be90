package io.sparserender.engine.attention;

/**
 * The pre-pass estimate of each tile pair's share of a row's softmax mass, per (q-tile, kv-tile) of
 * one (batch, head): {@code est[qt · nk + kt]} in [0, 1], in float as the kernel would hold it.
 *
 * <p>Two sources:
 * <ul>
 *   <li>{@link #meanPooled}: the estimator of the top-k/top-p literature. q̄ = mean of the q-tile's rows,
 *       k̄ = mean of the kv-tile's keys, weight w = (q̄·k̄)/√D + ln(cols) (the ln(cols) term gives a partial
 *       last tile its smaller share), est = softmax over the q-tile's kv-tiles of w (sums to 1). Costs
 *       about L·D + nq·nk·D multiply-adds per head (≈ 1/(2·br·bc) of dense QKᵀ + PV). On RoPE-structured
 *       video inputs it is a poor predictor (DESIGN §4): pooling averages the rotated vectors away.
 *   <li>{@link #fromPrior}: measured masses of an earlier call (e.g. the previous denoising step of the
 *       same layer and head): for each tile pair, the largest fraction of any row's mass in it
 *       ({@link TileMassTable}). Not normalised: summing these over a set of tiles bounds every row's
 *       mass in the set, which is what hybrid's pre-skip budget needs. This is the hook DESIGN §4
 *       suggests for {@code hybrid}.
 * </ul>
 * And {@link #globalTiles}: per head, the kv-tiles with a key every query favours (hybrid keeps them).
 */
final class TileEstimates {
    private TileEstimates() {}

    /**
     * Mean-pooled estimate for one (batch, head). {@code q} and {@code k} are the head's rows, row-major
     * [L, D]; {@code q} already carries the 1/√D scale.
     */
    static float[] meanPooled(float[] qScaled, float[] k, int seqLen, int headDim, Tiling tiling) {
        int nq = tiling.qTiles(seqLen);
        int nk = tiling.kvTiles(seqLen);
        float[] qBar = pool(qScaled, seqLen, headDim, tiling.br(), nq);
        float[] kBar = pool(k, seqLen, headDim, tiling.bc(), nk);
        float[] est = new float[nq * nk];
        for (int i = 0; i < nq; i++) {
            for (int j = 0; j < nk; j++) {
                float dot = 0;
                for (int d = 0; d < headDim; d++) {
                    dot += qBar[i * headDim + d] * kBar[j * headDim + d];
                }
                int cols = Math.min(tiling.bc(), seqLen - j * tiling.bc());
                est[i * nk + j] = dot + (float) Math.log(cols);
            }
            softmaxInPlace(est, i * nk, nk);
        }
        return est;
    }

    /**
     * The kv-tiles holding keys that every query favours (attention sinks), which the mean-pooled estimate
     * misses: a single strong key is diluted 1/bc in its tile's mean. In float, in this order (the CUDA
     * pre-pass mirrors it): q̄_t as {@link #meanPooled} pools them; ḡ = (Σ_t q̄_t, t ascending) / nq, the
     * head's mean query; each key's score s_c = ḡ·k_c (d ascending); per kv-tile its largest score; the
     * kv-tiles by that, descending (ties: lower index first), the first min(m, nk).
     */
    static int[] globalTiles(float[] qScaled, float[] k, int seqLen, int headDim, Tiling tiling, int m) {
        int nq = tiling.qTiles(seqLen);
        int nk = tiling.kvTiles(seqLen);
        float[] qBar = pool(qScaled, seqLen, headDim, tiling.br(), nq);
        float[] g = new float[headDim];
        for (int t = 0; t < nq; t++) {
            for (int d = 0; d < headDim; d++) {
                g[d] += qBar[t * headDim + d];
            }
        }
        for (int d = 0; d < headDim; d++) {
            g[d] /= nq;
        }
        float[] best = new float[nk];
        java.util.Arrays.fill(best, Float.NEGATIVE_INFINITY);
        for (int c = 0; c < seqLen; c++) {
            float dot = 0;
            for (int d = 0; d < headDim; d++) {
                dot += g[d] * k[c * headDim + d];
            }
            int kt = c / tiling.bc();
            best[kt] = Math.max(best[kt], dot);
        }
        return java.util.Arrays.copyOf(TilePlanner.descending(nk, best), Math.min(m, nk));
    }

    /** The prior's masses {@code mass[qt · nk + kt]} as they are. */
    static float[] fromPrior(double[] mass) {
        float[] est = new float[mass.length];
        for (int i = 0; i < mass.length; i++) {
            est[i] = (float) mass[i];
        }
        return est;
    }

    private static void softmaxInPlace(float[] w, int from, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = from; j < from + n; j++) {
            max = Math.max(max, w[j]);
        }
        float sum = 0;
        for (int j = from; j < from + n; j++) {
            w[j] = (float) Math.exp(w[j] - max);
            sum += w[j];
        }
        for (int j = from; j < from + n; j++) {
            w[j] /= sum;
        }
    }

    private static float[] pool(float[] x, int seqLen, int headDim, int tile, int tiles) {
        float[] out = new float[tiles * headDim];
        for (int t = 0; t < tiles; t++) {
            int start = t * tile;
            int n = Math.min(tile, seqLen - start);
            for (int i = start; i < start + n; i++) {
                for (int d = 0; d < headDim; d++) {
                    out[t * headDim + d] += x[i * headDim + d];
                }
            }
            for (int d = 0; d < headDim; d++) {
                out[t * headDim + d] /= n;
            }
        }
        return out;
    }
}
