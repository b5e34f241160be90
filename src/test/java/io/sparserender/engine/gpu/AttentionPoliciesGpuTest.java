package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.POISON32;
import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.poisoned;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.AttentionResult;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.TileMassTable;
import io.sparserender.engine.attention.TilePlans;
import io.sparserender.engine.attention.TiledAttention;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.tensor.DType;
import io.sparserender.testing.RequiresGpu;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The listed kernels (every policy beyond the dense fast path: topk, topp, hybrid, recall bound=exact and
 * binned, orders local and estimate), mma.sync and wgmma, against TiledAttention on the same bf16-rounded
 * inputs: the device plan equals the Java twin's (TilePlans), the tiles skipped before QKᵀ are exactly the
 * unlisted ones (keep flag 2), and tile by tile the in-loop decisions agree; where they do not, the first
 * disagreeing tile of the q-tile must lie within {@link #EPS} nats of the reference's threshold
 * ({@link DecisionMargins}), and the q-tile's later tiles are counted with it (reported, not failed).
 * Every output element is written (poisoned buffer) and close to the reference on q-tiles that decided
 * as it did; the counters agree with the flags; the production path (plan inside {@code forward}) gives
 * the same bits as the explicit plan.
 */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class AttentionPoliciesGpuTest {
    /** Largest distance (nats) of a disputed decision from the reference's threshold. */
    static final double EPS = 2e-3;

    @ParameterizedTest(name = "{0} B={1} grid={2} H={3} D={4} {5}")
    @CsvSource(delimiter = '|', value = {
        "random | 1 | 2x10x10 | 1 | 64  | topk:k=1,br=64,bc=64",
        "random | 1 | 2x10x10 | 2 | 128 | topk:k=1,br=64,bc=32",
        "random | 2 | 1x11x47 | 3 | 128 | topk:k=3,br=64,bc=32",
        "video  | 1 | 3x7x13  | 2 | 64  | topk:k=4,br=64,bc=32,order=local",
        "video  | 2 | 5x10x20 | 2 | 128 | topp:p=0.9,br=64,bc=64",
        "random | 1 | 1x11x47 | 2 | 64  | topp:p=0.5,br=64,bc=32,order=estimate",
        "video  | 2 | 5x10x20 | 3 | 128 | hybrid:r=0.95,br=64,bc=64",
        "video  | 1 | 1x11x47 | 2 | 128 | hybrid:r=0.9,bound=exact,pre=0.5,br=64,bc=32",
        "video  | 2 | 3x7x13  | 2 | 64  | hybrid:r=0.95,bound=binned,br=64,bc=64,order=local",
        "video  | 1 | 8x16x16 | 2 | 128 | hybrid:r=0.95,br=64,bc=32",
        "video  | 1 | 5x10x20 | 3 | 128 | recall:r=0.95,bound=exact,br=64,bc=64",
        "random | 2 | 1x11x47 | 2 | 64  | recall:r=0.9,bound=binned,br=64,bc=32",
        "video  | 1 | 5x10x20 | 2 | 128 | recall:r=0.95,bound=max,br=64,bc=32,order=local",
        "video  | 2 | 2x9x31  | 2 | 128 | recall:r=0.95,bound=exact,br=64,bc=64,order=estimate",
        "video  | 1 | 5x10x20 | 2 | 64  | recall:r=0.9,bound=binned,br=64,bc=32,order=local",
        "video  | 1 | 8x16x16 | 2 | 128 | recall:r=0.95,bound=binned,br=64,bc=64,order=local",
        "random | 1 | 5x10x20 | 2 | 128 | dense:br=64,bc=32,order=local",
        "video  | 1 | 3x7x13  | 1 | 128 | dense:br=64,bc=64,order=estimate",
        "video  | 2 | 1x11x47 | 3 | 128 | blasst:scale=1,br=64,bc=64,order=estimate",
        "video  | 1 | 5x10x20 | 2 | 128 | dynsparse:lambda=-9,br=64,bc=32,order=local",
        // ws's listed kernels (D = 128, bc = 64) at awkward sizes: L = 1; L = 63 (one partial tile, the CTA's second
        // q-tile absent); L = 129 (a last tile of one key, a last q-tile of one row); odd lists in estimate order
        "random | 1 | 1x1x1   | 1 | 128 | topk:k=1,br=64,bc=64",
        "random | 1 | 1x7x9   | 1 | 128 | topk:k=1,br=64,bc=64",
        "video  | 1 | 1x3x43  | 2 | 128 | hybrid:r=0.95,br=64,bc=64",
        "random | 2 | 3x7x13  | 2 | 128 | topp:p=0.9,br=64,bc=64,order=estimate",
        "video  | 1 | 5x10x20 | 2 | 128 | dynsparse:lambda=-9,br=64,bc=64,order=estimate",
        "video  | 1 | 8x16x16 | 2 | 128 | recall:r=0.95,bound=max,br=64,bc=64,order=local",
        // ws's br = 128 listed kernel (one list per 128-row q-tile, both consumers sharing it): L = 1; L = 63 (the
        // CTA's second half absent); L = 129 (a last tile of one key, a last q-tile of one row); L = 200 (the second
        // half partial); odd lists; every in-loop rule with its vote over both consumers
        "random | 1 | 1x1x1   | 1 | 128 | topk:k=1,br=128,bc=64",
        "random | 1 | 1x7x9   | 2 | 128 | topk:k=1,br=128,bc=64",
        "video  | 1 | 1x3x43  | 2 | 128 | hybrid:r=0.95,br=128,bc=64",
        "video  | 2 | 5x10x20 | 3 | 128 | hybrid:r=0.95,br=128,bc=64",
        "video  | 1 | 8x16x16 | 2 | 128 | hybrid:r=0.9,pre=0.5,br=128,bc=64",
        "video  | 1 | 5x10x20 | 2 | 128 | hybrid:r=0.975,pre=1,br=128,bc=64",
        "video  | 2 | 1x11x47 | 2 | 128 | hybrid:r=0.9,bound=exact,pre=1,br=64,bc=64",
        "random | 2 | 3x7x13  | 2 | 128 | topp:p=0.9,br=128,bc=64,order=estimate",
        "video  | 1 | 2x10x10 | 2 | 128 | topp:p=0.5,br=128,bc=64",
        "video  | 1 | 5x10x20 | 2 | 128 | dynsparse:lambda=-9,br=128,bc=64,order=estimate",
        "video  | 2 | 1x11x47 | 2 | 128 | blasst:scale=1,br=128,bc=64,order=estimate",
        "video  | 1 | 8x16x16 | 2 | 128 | recall:r=0.95,bound=max,br=128,bc=64,order=local",
        "video  | 1 | 3x7x13  | 1 | 128 | dense:br=128,bc=64,order=estimate",
    })
    void matchesTheReference(String kind, int batch, String grid, int heads, int headDim, String spec) {
        VideoGrid g = VideoGrid.parse(grid);
        QkvInput in = AttentionPlanGpuTest.input(kind, batch, g, heads, headDim,
                "policies " + kind + " " + batch + " " + grid + " " + heads + " " + headDim + " " + spec);
        run(in, PolicySpec.parse(spec), AttentionOptions.withGrid(g));
    }

    /** hybrid (and topk) planned from a prior: the exact tile masses of a dense reference call. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "hybrid:r=0.95,br=64,bc=64",
        "hybrid:r=0.9,bound=binned,pre=0.6,br=64,bc=32,order=local",
        "topk:k=3,br=64,bc=32",
    })
    void matchesTheReferenceWithAPrior(String spec) {
        VideoGrid g = new VideoGrid(5, 10, 20);
        QkvInput in = AttentionPlanGpuTest.input("video", 2, g, 2, 128, "policies prior " + spec);
        AttentionPolicy policy = PolicySpec.parse(spec);
        TileMassTable prior = TiledAttention.run(in, PolicySpec.parse("dense:br=64,bc=" + policy.tiling().bc()),
                AttentionOptions.NONE).measured();
        run(in, policy, new AttentionOptions(g, prior));
    }

    private static void run(QkvInput in, AttentionPolicy policy, AttentionOptions options) {
        AttentionResult ref = TiledAttention.run(in, policy, options);
        TilePlans.Plan twin = TilePlans.of(in, policy, options);
        CudaKernels ops = ops();
        // mma.sync; wg1's listed kernels; ws's where they run the policy (else wg1's again). br = 128 runs on ws's
        // listed kernel only: the others must refuse it and name the tiling.
        for (AttentionKernel family : new AttentionKernel[] {AttentionKernel.MMA_SYNC, AttentionKernel.WG1, AttentionKernel.WS}) {
            CudaAttention attention = new CudaAttention(ops.device(), family);
            if (policy.tiling().br() != CudaAttention.BR && attention.kernelFor(policy, in.headDim()) != AttentionKernel.WS) {
                try (DeviceArena.Scope scope = ops.device().arena().scope()) {
                    int[] shape = in.q().shape();
                    DeviceBuffer dq = ops.uploadBf16(in.q().data(), shape);
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> attention.forward(policy, options,
                            dq, dq, dq, ops.allocate(DType.F32, shape), null, null, attention.newStatsBuffer()));
                    assertTrue(e.getMessage().contains("br=" + policy.tiling().br()), e.getMessage());
                }
                continue;
            }
            check(ops, attention, in, policy, options, ref, twin);
        }
    }

    private static void check(CudaKernels ops, CudaAttention attention, QkvInput in, AttentionPolicy policy, AttentionOptions options,
                              AttentionResult ref, TilePlans.Plan twin) {
        String name = attention.name() + " " + policy.spec();
        int[] shape = in.q().shape();
        int batch = shape[0];
        int seqLen = shape[1];
        int heads = shape[2];
        int headDim = shape[3];
        int br = policy.tiling().br();
        int bc = policy.tiling().bc();
        int nq = twin.qTiles();
        int nk = twin.kvTiles();
        float[] q = in.q().data();
        float[] k = in.k().data();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer dq = ops.uploadBf16(q, shape);
            DeviceBuffer dk = ops.uploadBf16(k, shape);
            DeviceBuffer dv = ops.uploadBf16(in.v().data(), shape);
            DeviceBuffer out = poisoned(DType.F32, shape);
            DeviceBuffer lse = poisoned(DType.F32, batch, heads, seqLen);
            DeviceBuffer keep = ops.allocate(DType.I32, batch, heads, nq, nk);
            ops.fill(keep, 7); // a tile the kernel never marked shows up
            DeviceBuffer stats = attention.newStatsBuffer();
            ops.fill(stats, 0);
            AttentionPlanner.DevicePlan plan = attention.planner().plan(policy, options, dq, dk, false);
            attention.launchPlanned(policy, plan, dq, dk, dv, out, lse, keep, stats);
            CudaAttention.Stats st = attention.readStats(stats);
            int[][] lists = lists(plan, batch * heads, nq, nk);

            // The production path plans inside forward: the same bits.
            DeviceBuffer out2 = poisoned(DType.F32, shape);
            DeviceBuffer keep2 = ops.allocate(DType.I32, batch, heads, nq, nk);
            ops.fill(keep2, 7);
            CudaAttention.Stats st2 = attention.forward(policy, options, dq, dk, dv, out2, null, keep2, attention.newStatsBuffer());
            assertEquals(st, st2, name + ": forward's counters vs the explicit plan's");
            assertArrayEquals(keep.toIntArray(), keep2.toIntArray(), name + ": forward's keep flags vs the explicit plan's");
            assertArrayEquals(bits(out.toFloatArray()), bits(out2.toFloatArray()), name + ": forward's output bits vs the explicit plan's");

            int[] flags = keep.toIntArray();
            DecisionMargins margins = new DecisionMargins(q, k, seqLen, heads, headDim);
            boolean[] qtileFlipped = new boolean[batch * heads * nq];
            int flippedQTiles = 0;
            int flippedTiles = 0;
            double worstDistance = 0;
            long inLoop = 0;
            long beforeQk = 0;
            double saved = 0;
            for (int b = 0; b < batch; b++) {
                for (int h = 0; h < heads; h++) {
                    for (int qt = 0; qt < nq; qt++) {
                        int row = (b * heads + h) * nq + qt;
                        int rows = Math.min(br, seqLen - qt * br);
                        int[] visit = twin.visit(b, h, qt);
                        assertArrayEquals(visit, lists[row], name + ": device visit list of (b=" + b + ", h=" + h + ", qt=" + qt
                                + ") vs the reference's");
                        boolean[] listed = new boolean[nk];
                        for (int kt : visit) {
                            listed[kt] = true;
                        }
                        for (int kt = 0; kt < nk; kt++) {
                            int f = flags[row * nk + kt];
                            int cols = Math.min(bc, seqLen - kt * bc);
                            assertTrue(listed[kt] ? f == 0 || f == 1 : f == 2, name + ": keep flag of tile (" + b + "," + h + ","
                                    + qt + "," + kt + ") is " + f + (listed[kt] ? ", expected 0 or 1 (visited)" : ", expected 2 (not listed)"));
                            if (f == 0) {
                                inLoop++;
                                saved += 2.0 * rows * cols * headDim;
                            } else if (f == 2) {
                                beforeQk++;
                                saved += 4.0 * rows * cols * headDim;
                            }
                        }
                        // The first disputed decision in visiting order must be a near-threshold one.
                        boolean[] keptBefore = new boolean[visit.length];
                        for (int pos = 0; pos < visit.length; pos++) {
                            boolean gpuKept = flags[row * nk + visit[pos]] == 1;
                            boolean refKept = ref.mask().kept(b, h, qt, visit[pos]);
                            if (gpuKept != refKept) {
                                double d = margins.distance(policy, b, h, qt, br, bc, visit, keptBefore, pos, !refKept);
                                assertTrue(d <= EPS, name + ": tile (" + b + "," + h + "," + qt + "," + visit[pos] + "), visited "
                                        + pos + "th, " + (refKept ? "kept" : "skipped") + " by the reference, " + (gpuKept ? "kept" : "skipped")
                                        + " by the kernel, " + d + " nats from the threshold (allowed " + EPS + ")");
                                worstDistance = Math.max(worstDistance, d);
                                qtileFlipped[row] = true;
                                flippedQTiles++;
                                for (int rest = pos; rest < visit.length; rest++) {
                                    if ((flags[row * nk + visit[rest]] == 1) != ref.mask().kept(b, h, qt, visit[rest])) {
                                        flippedTiles++;
                                    }
                                }
                                break;
                            }
                            keptBefore[pos] = refKept;
                        }
                    }
                }
            }
            long total = (long) batch * heads * nq * nk;
            System.out.printf("  %s: tiles %d, skipped in loop gpu %d ref %d, before QK gpu %d ref %d, near-threshold flips: %d tiles"
                    + " in %d of %d q-tiles (worst %.2e nats)%n", name, total, st.tilesSkippedInLoop(), ref.stats().tilesSkippedInLoop(),
                    st.tilesSkippedBeforeQk(), ref.stats().tilesSkippedBeforeQk(), flippedTiles, flippedQTiles, batch * heads * nq,
                    worstDistance);
            assertEquals(total, st.tilesTotal(), name + ": tiles");
            assertEquals(inLoop, st.tilesSkippedInLoop(), name + ": skipped in the loop vs keep flags");
            assertEquals(beforeQk, st.tilesSkippedBeforeQk(), name + ": skipped before QK vs keep flags");
            assertEquals(ref.stats().tilesSkippedBeforeQk(), st.tilesSkippedBeforeQk(), name + ": skipped before QK vs the reference");
            assertEquals((long) saved, st.flopsSaved(), name + ": FLOPs saved vs keep flags");
            if (flippedQTiles == 0) {
                assertEquals(ref.stats().tilesSkippedInLoop(), st.tilesSkippedInLoop(), name + ": skipped in the loop vs the reference");
            }
            checkOutput(name, out.toFloatArray(), ref.o().data(), in.v().data(), qtileFlipped, seqLen, heads, headDim, nq, br);
            float[] ls = lse.toFloatArray();
            for (int i = 0; i < ls.length; i++) {
                assertTrue(Float.floatToRawIntBits(ls[i]) != POISON32, name + ": lse element " + i + " never written");
            }
        }
    }

    private static int[] bits(float[] x) {
        int[] b = new int[x.length];
        for (int i = 0; i < x.length; i++) {
            b[i] = Float.floatToRawIntBits(x[i]);
        }
        return b;
    }

    /** Per (b·H + h)·nq + qt, the device's visit list (the plan's list, or the natural order). */
    private static int[][] lists(AttentionPlanner.DevicePlan plan, int bh, int nq, int nk) {
        int[] list = plan.list() == null ? null : plan.list().toIntArray();
        int[] count = plan.count() == null ? null : plan.count().toIntArray();
        int[][] out = new int[bh * nq][];
        for (int i = 0; i < bh; i++) {
            for (int qt = 0; qt < nq; qt++) {
                int row = i * nq + qt;
                int n = count == null ? nk : count[row];
                if (list == null) {
                    out[row] = IntStream.range(0, n).toArray();
                } else {
                    int from = (int) (i * plan.listBhStride()) + qt * nk;
                    out[row] = Arrays.copyOfRange(list, from, from + n);
                }
            }
        }
        return out;
    }

    static void checkOutput(String name, float[] o, float[] expected, float[] v, boolean[] qtileFlipped, int seqLen, int heads,
                            int headDim, int nq, int br) {
        double vmax = 0;
        for (float x : v) {
            vmax = Math.max(vmax, Math.abs(x));
        }
        double atol = 4e-3 * vmax;
        double rtol = 1e-2;
        int bad = 0;
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < o.length; i++) {
            if (Float.floatToRawIntBits(o[i]) == POISON32) {
                throw new AssertionError(name + ": output element " + i + " never written");
            }
            int row = i / (heads * headDim) % seqLen;
            int h = i / headDim % heads;
            int b = i / (seqLen * heads * headDim);
            if (qtileFlipped[(b * heads + h) * nq + row / br]) {
                continue;
            }
            double err = Math.abs((double) o[i] - expected[i]);
            double tol = atol + rtol * Math.abs(expected[i]);
            if (!(err <= tol)) {
                bad++;
                double ex = Double.isNaN(err) ? Double.POSITIVE_INFINITY : err / tol;
                if (worst < 0 || ex > worstExcess) {
                    worst = i;
                    worstExcess = ex;
                }
            }
        }
        if (bad > 0) {
            throw new AssertionError(name + ": " + bad + " of " + o.length + " output elements outside atol " + atol + " + rtol " + rtol
                    + "; worst at " + worst + ": " + o[worst] + " vs " + expected[worst]);
        }
    }
}
