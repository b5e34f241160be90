package io.sparserender.engine.attention;

import io.sparserender.engine.tensor.Tensor;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * The plain-Java reference of the sparse attention kernel: FlashAttention-style tiling with an online
 * softmax, layout [B, L, H, D], scale 1/√D, float32 arithmetic (exp taken in double and rounded to
 * float), q-tiles of br rows, kv-tiles of bc keys, partial last tiles. The CUDA kernel must match it
 * decision for decision.
 *
 * <p>One q-tile's pass (one CTA in the kernel):
 * <pre>
 *   visit = TilePlanner.plan(policy, ...)          // pre-pass: order, and tiles skipped before QKᵀ
 *   m[r] = −∞, l[r] = 0, acc[r][:] = 0; rule.begin()
 *   for kt in visit:
 *       s = (q/√D) · kᵀ over the tile; t[r] = max_c s[r][c]       // QKᵀ is always done for visited tiles
 *       if rule.skip(s, t, m, l): continue                        // in-loop skip: no exp, V load or PV
 *       m'[r] = max(m[r], t[r]); α[r] = exp(m[r] − m'[r])
 *       l[r] = α·l[r] + Σ_c exp(s − m'); acc[r] = α·acc[r] + Σ_c exp(s − m')·v[c]; rule.rescale(α)
 *   o[r] = acc[r] / l[r]
 * </pre>
 * Work is spread over (batch, head) pairs on the common fork-join pool.
 */
public final class TiledAttention {
    private TiledAttention() {}

    public static AttentionResult run(QkvInput in, AttentionPolicy policy, AttentionOptions options) {
        Tiling tiling = policy.tiling();
        int bsz = in.batch();
        int seqLen = in.seqLen();
        int heads = in.heads();
        int headDim = in.headDim();
        int nq = tiling.qTiles(seqLen);
        int nk = tiling.kvTiles(seqLen);
        int[][] localOrders = TilePlans.localOrders(in, policy, options);
        TileMassTable prior = options.prior();
        TilePlans.checkPrior(in, policy, prior);
        float[] out = new float[in.q().numel()];
        TileMask mask = new TileMask(bsz, heads, nq, nk);
        double[] measured = new double[Math.multiplyExact(bsz * heads, nq * nk)];
        long[][] counters = new long[bsz * heads][];
        int[][] local = localOrders;
        IntStream.range(0, bsz * heads).parallel().forEach(bh -> counters[bh] =
                new HeadPass(in, policy, bh / heads, bh % heads, local, prior, out, mask, measured).run());
        long total = 0;
        long inLoop = 0;
        long beforeQk = 0;
        double saved = 0;
        for (long[] c : counters) {
            total += c[0];
            inLoop += c[1];
            beforeQk += c[2];
            saved += c[3];
        }
        double denseFlops = 4.0 * bsz * heads * (double) seqLen * seqLen * headDim;
        AttentionStats stats = new AttentionStats(policy.spec(), bsz, seqLen, heads, headDim, tiling.br(), tiling.bc(),
                total, inLoop, beforeQk, (double) (inLoop + beforeQk) / total, saved / denseFlops,
                null, null, null, null);
        return new AttentionResult(new Tensor(out, in.q().shape()), stats, mask,
                new TileMassTable(bsz, heads, seqLen, tiling.br(), tiling.bc(), measured));
    }

    /** One (batch, head): gathers its rows, runs every q-tile, returns {tiles, in-loop, before-QKᵀ, FLOPs saved}. */
    private static final class HeadPass {
        final QkvInput in;
        final AttentionPolicy policy;
        final int b;
        final int h;
        final int[][] localOrders;
        final TileMassTable prior;
        final float[] out;
        final TileMask mask;
        final double[] measured;

        HeadPass(QkvInput in, AttentionPolicy policy, int b, int h, int[][] localOrders, TileMassTable prior,
                 float[] out, TileMask mask, double[] measured) {
            this.in = in;
            this.policy = policy;
            this.b = b;
            this.h = h;
            this.localOrders = localOrders;
            this.prior = prior;
            this.out = out;
            this.mask = mask;
            this.measured = measured;
        }

        long[] run() {
            int seqLen = in.seqLen();
            int headDim = in.headDim();
            Tiling tiling = policy.tiling();
            int br = tiling.br();
            int bc = tiling.bc();
            int nq = tiling.qTiles(seqLen);
            int nk = tiling.kvTiles(seqLen);
            float scale = (float) (1 / Math.sqrt(headDim));
            // Gather this head: q pre-scaled [L][D], k transposed [D][L] (so QKᵀ runs along keys), v [L][D].
            float[] q = new float[seqLen * headDim];
            float[] k = new float[seqLen * headDim];
            float[] kT = new float[seqLen * headDim];
            float[] v = new float[seqLen * headDim];
            float[] qd = in.q().data();
            float[] kd = in.k().data();
            float[] vd = in.v().data();
            for (int l = 0; l < seqLen; l++) {
                int src = in.offset(b, l, h);
                for (int d = 0; d < headDim; d++) {
                    q[l * headDim + d] = qd[src + d] * scale;
                    k[l * headDim + d] = kd[src + d];
                    kT[d * seqLen + l] = kd[src + d];
                    v[l * headDim + d] = vd[src + d];
                }
            }
            float[] est = null;
            if (TilePlanner.needsEstimate(policy)) {
                est = TilePlans.headEstimates(tiling, prior, b, h, q, k, seqLen, headDim);
            }
            int[] global = TilePlans.headGlobals(policy, prior, q, k, seqLen, headDim);
            LoopRule rule = LoopRule.forPolicy(policy, seqLen, br);
            float[] s = new float[br * bc];
            float[] tileMax = new float[br];
            float[] m = new float[br];
            float[] lsum = new float[br];
            float[] alpha = new float[br];
            float[] acc = new float[br * headDim];
            // Per visited tile and row: the kept row sum (units of exp(mAt)), or for a skipped tile its row max.
            float[] tileSum = new float[nk * br];
            float[] tileAt = new float[nk * br];
            boolean[] kept = new boolean[nk];
            long inLoop = 0;
            long beforeQk = 0;
            double saved = 0;
            for (int qt = 0; qt < nq; qt++) {
                int r0 = qt * br;
                int rows = Math.min(br, seqLen - r0);
                float[] estRow = est == null ? null : Arrays.copyOfRange(est, qt * nk, (qt + 1) * nk);
                int[] visit = TilePlanner.plan(policy, nk, estRow, localOrders == null ? null : localOrders[qt], global);
                boolean[] visited = new boolean[nk];
                for (int kt : visit) {
                    visited[kt] = true;
                }
                for (int kt = 0; kt < nk; kt++) {
                    if (!visited[kt]) {
                        beforeQk++;
                        saved += 4.0 * rows * Math.min(bc, seqLen - kt * bc) * headDim;
                    }
                }
                Arrays.fill(m, Float.NEGATIVE_INFINITY);
                Arrays.fill(lsum, 0f);
                Arrays.fill(acc, 0f);
                Arrays.fill(kept, false);
                rule.begin(rows);
                for (int kt : visit) {
                    int c0 = kt * bc;
                    int cols = Math.min(bc, seqLen - c0);
                    scores(q, kT, seqLen, headDim, r0, rows, c0, cols, s, bc, tileMax);
                    if (rule.skip(rows, cols, s, bc, tileMax, m, lsum)) {
                        inLoop++;
                        saved += 2.0 * rows * cols * headDim;
                        for (int r = 0; r < rows; r++) {
                            tileAt[kt * br + r] = tileMax[r];
                        }
                        continue;
                    }
                    mask.set(b, h, qt, kt);
                    kept[kt] = true;
                    for (int r = 0; r < rows; r++) {
                        float mNew = Math.max(m[r], tileMax[r]);
                        alpha[r] = m[r] == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(m[r] - mNew);
                        m[r] = mNew;
                        lsum[r] *= alpha[r];
                        int a0 = r * headDim;
                        for (int d = 0; d < headDim; d++) {
                            acc[a0 + d] *= alpha[r];
                        }
                        float rowSum = 0;
                        for (int c = 0; c < cols; c++) {
                            float p = (float) Math.exp(s[r * bc + c] - mNew);
                            s[r * bc + c] = p;
                            rowSum += p;
                        }
                        lsum[r] += rowSum;
                        tileSum[kt * br + r] = rowSum;
                        tileAt[kt * br + r] = mNew;
                        for (int c = 0; c < cols; c++) {
                            float p = s[r * bc + c];
                            int v0 = (c0 + c) * headDim;
                            for (int d = 0; d < headDim; d++) {
                                acc[a0 + d] += p * v[v0 + d];
                            }
                        }
                    }
                    rule.rescale(rows, alpha);
                }
                int mBase = ((b * in.heads() + h) * nq + qt) * nk;
                for (int kt = 0; kt < nk; kt++) {
                    double worst = 0;
                    if (!visited[kt]) {
                        worst = est[qt * nk + kt];
                    } else {
                        int cols = Math.min(bc, seqLen - kt * bc);
                        for (int r = 0; r < rows; r++) {
                            double f = kept[kt]
                                    ? tileSum[kt * br + r] * Math.exp(tileAt[kt * br + r] - m[r]) / lsum[r]
                                    : Math.min(1, cols * Math.exp(tileAt[kt * br + r] - m[r]) / lsum[r]);
                            worst = Math.max(worst, f);
                        }
                    }
                    measured[mBase + kt] = worst;
                }
                for (int r = 0; r < rows; r++) {
                    int dst = in.offset(b, r0 + r, h);
                    float inv = 1f / lsum[r];
                    for (int d = 0; d < headDim; d++) {
                        out[dst + d] = acc[r * headDim + d] * inv;
                    }
                }
            }
            return new long[] {(long) nq * nk, inLoop, beforeQk, (long) saved};
        }

        /** s[r][c] = q[r0 + r] · k[c0 + c] (q pre-scaled) and the row maxima. */
        private static void scores(float[] q, float[] kT, int seqLen, int headDim, int r0, int rows, int c0, int cols,
                                   float[] s, int stride, float[] tileMax) {
            for (int r = 0; r < rows; r++) {
                int s0 = r * stride;
                Arrays.fill(s, s0, s0 + cols, 0f);
                int q0 = (r0 + r) * headDim;
                for (int d = 0; d < headDim; d++) {
                    float qv = q[q0 + d];
                    int k0 = d * seqLen + c0;
                    for (int c = 0; c < cols; c++) {
                        s[s0 + c] += qv * kT[k0 + c];
                    }
                }
                float t = Float.NEGATIVE_INFINITY;
                for (int c = 0; c < cols; c++) {
                    t = Math.max(t, s[s0 + c]);
                }
                tileMax[r] = t;
            }
        }
    }
}
