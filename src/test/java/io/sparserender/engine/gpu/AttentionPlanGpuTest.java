package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.random;
import static io.sparserender.testing.GpuTestDevice.roundBf16;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.TileMassTable;
import io.sparserender.engine.attention.TilePlans;
import io.sparserender.engine.attention.TiledAttention;
import io.sparserender.engine.attention.Tiling;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.attention.VideoLikeInputs;
import io.sparserender.engine.attention.VisitOrder;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.testing.RequiresGpu;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * attention_plan.cu against its Java twin TilePlans (the reference's TileEstimates, TilePlanner,
 * LocalOrder): the estimates bit for bit, hybrid's global tiles per head, and the visit list of every q-tile
 * entry for entry. The .cu
 * file computes every value in the reference's order with the reference's roundings, so equality is
 * expected; an estimate row that differs (possible only through CUDA's and Java's double exp rounding
 * differently to float) is counted and reported, and only its q-tile's list is exempt from equality.
 */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class AttentionPlanGpuTest {
    /** Rows of estimates allowed not to be bit-identical (each one reported). */
    static final double MAX_DIFFERENT_ROWS = 0.001;

    @ParameterizedTest(name = "{0} B={1} grid={2} H={3} D={4} {5}")
    @CsvSource(delimiter = '|', value = {
        "random | 1 | 2x10x10 | 1 | 64  | topk:k=1,br=64,bc=64",
        "random | 2 | 1x11x47 | 3 | 128 | topk:k=3,br=64,bc=32",
        "video  | 2 | 5x10x20 | 2 | 128 | topk:k=40,br=64,bc=32",
        "video  | 1 | 3x7x13  | 2 | 64  | topk:k=4,br=64,bc=32,order=local",
        "random | 1 | 5x10x20 | 2 | 64  | topp:p=0.5,br=64,bc=64",
        "video  | 2 | 1x11x47 | 3 | 128 | topp:p=0.9,br=64,bc=32",
        "video  | 1 | 5x10x20 | 2 | 128 | topp:p=1,br=64,bc=64,order=estimate",
        "video  | 2 | 5x10x20 | 2 | 128 | hybrid:r=0.95,br=64,bc=64",
        "random | 1 | 1x11x47 | 2 | 64  | hybrid:r=0.9,bound=exact,pre=0.5,br=64,bc=32,order=natural",
        "video  | 1 | 3x7x13  | 3 | 128 | hybrid:r=0.8,pre=1,br=64,bc=32,order=local",
        "video  | 1 | 5x10x20 | 1 | 128 | hybrid:r=0.95,pre=0,br=64,bc=64",
        "video  | 2 | 1x11x47 | 3 | 64  | hybrid:r=0.95,global=1,br=64,bc=32",
        "video  | 1 | 3x7x13  | 2 | 128 | hybrid:r=0.5,pre=1,global=50,br=64,bc=64",
        "random | 2 | 2x9x31  | 2 | 128 | hybrid:r=0.8,pre=0.5,global=3,br=64,bc=32,order=local",
        "video  | 1 | 5x10x20 | 2 | 64  | hybrid:r=0.9,pre=0.7,global=16,br=64,bc=32,order=natural",
        "video  | 1 | 4x24x24 | 2 | 128 | hybrid:r=0.95,global=0,br=64,bc=64",
        "video  | 1 | 5x30x41 | 2 | 128 | hybrid:r=0.95,br=64,bc=32",
        "random | 1 | 3x29x48 | 2 | 64  | hybrid:r=0.9,pre=1,global=5,br=128,bc=64",
        "video  | 2 | 5x10x20 | 2 | 64  | recall:r=0.95,bound=binned,br=64,bc=32,order=estimate",
        "random | 1 | 2x10x10 | 2 | 128 | dense:br=64,bc=64,order=estimate",
        "video  | 1 | 5x10x20 | 2 | 128 | dynsparse:lambda=-9,br=64,bc=32,order=local",
        "video  | 1 | 2x9x31  | 1 | 128 | recall:r=0.9,br=64,bc=64,order=local",
    })
    void listsAreTheReferences(String kind, int batch, String grid, int heads, int headDim, String spec) {
        VideoGrid g = VideoGrid.parse(grid);
        QkvInput in = input(kind, batch, g, heads, headDim, "plan " + kind + " " + grid + " " + spec);
        check(in, PolicySpec.parse(spec), AttentionOptions.withGrid(g));
    }

    /** hybrid with a prior: the measured tile masses of a dense reference call replace the mean-pooled estimate. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "hybrid:r=0.95,br=64,bc=64",
        "hybrid:r=0.9,bound=binned,pre=0.6,br=64,bc=32,order=local",
        "topk:k=3,br=64,bc=32",
    })
    void listsFollowAPrior(String spec) {
        VideoGrid g = new VideoGrid(5, 10, 20);
        QkvInput in = input("video", 1, g, 2, 128, "plan prior " + spec);
        AttentionPolicy policy = PolicySpec.parse(spec);
        AttentionPolicy dense = PolicySpec.parse("dense:br=64,bc=" + policy.tiling().bc());
        TileMassTable prior = TiledAttention.run(in, dense, AttentionOptions.NONE).measured();
        check(in, policy, new AttentionOptions(g, prior));
    }

    /** The sort at its largest: 4097 kv-tiles of 32 keys (sorted over 8192 entries, 96 KiB of shared memory). */
    @Test
    void largestSortMatchesTheReference() {
        VideoGrid g = new VideoGrid(32, 17, 241); // L = 131,104
        QkvInput in = input("random", 1, g, 1, 64, "plan largest sort");
        assertEquals(8192, AttentionPlanner.npow2(new Tiling(64, 32, VisitOrder.NATURAL).kvTiles(g.tokens())));
        check(in, PolicySpec.parse("topk:k=8,br=64,bc=32,order=local"), AttentionOptions.withGrid(g));
        check(in, PolicySpec.parse("topp:p=0.3,br=64,bc=32"), AttentionOptions.NONE);
    }

    @ParameterizedTest(name = "grid={0} bc={1}")
    @CsvSource({"1x1x1, 64", "1x1x97, 32", "3x7x13, 32", "4x24x24, 64", "21x3x5, 32", "5x10x20, 64"})
    void localOrderIsTheReferences(String grid, int bc) {
        VideoGrid g = VideoGrid.parse(grid);
        Tiling t = new Tiling(64, bc, VisitOrder.LOCAL);
        int[][] want = TilePlans.localOrder(g, g.tokens(), t);
        CudaKernels ops = ops();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            int[] got = new AttentionPlanner(ops.device()).localOrder(g, g.tokens(), t).toIntArray();
            int nk = t.kvTiles(g.tokens());
            for (int qt = 0; qt < want.length; qt++) {
                int[] row = Arrays.copyOfRange(got, qt * nk, (qt + 1) * nk);
                assertTrue(Arrays.equals(want[qt], row), "grid " + g + " bc=" + bc + " q-tile " + qt + ": " + Arrays.toString(row)
                        + " vs reference " + Arrays.toString(want[qt]));
            }
        }
    }

    static QkvInput input(String kind, int batch, VideoGrid g, int heads, int headDim, String name) {
        SplittableRandom r = random(name);
        QkvInput raw = kind.equals("video")
                ? VideoLikeInputs.videoLike(batch, g, heads, headDim, VideoLikeInputs.Knobs.defaults(), r.nextLong())
                : VideoLikeInputs.random(batch, g.tokens(), heads, headDim, 1.0, r.nextLong());
        int[] shape = raw.q().shape();
        return new QkvInput(new Tensor(roundBf16(raw.q().data()), shape), new Tensor(roundBf16(raw.k().data()), shape),
                new Tensor(roundBf16(raw.v().data()), shape));
    }

    private static void check(QkvInput in, AttentionPolicy policy, AttentionOptions options) {
        TilePlans.Plan want = TilePlans.of(in, policy, options);
        int[] shape = in.q().shape();
        int bh = in.batch() * in.heads();
        int nq = want.qTiles();
        int nk = want.kvTiles();
        CudaKernels ops = ops();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer dq = ops.uploadBf16(in.q().data(), shape);
            DeviceBuffer dk = ops.uploadBf16(in.k().data(), shape);
            AttentionPlanner.DevicePlan plan = new AttentionPlanner(ops.device()).plan(policy, options, dq, dk, true);
            float[] est = plan.estimates().toFloatArray();
            int[] list = plan.list().toIntArray();
            int[] count = plan.count().toIntArray();
            if (want.globals() == null) {
                assertTrue(plan.globals() == null, policy.spec() + ": the device chose global tiles, the reference none");
            } else {
                int[] globals = plan.globals().toIntArray();
                int per = globals.length / bh;
                for (int i = 0; i < bh; i++) {
                    int[] got = Arrays.copyOfRange(globals, i * per, (i + 1) * per);
                    assertTrue(Arrays.equals(want.globals()[i], got), policy.spec() + " b*H+h = " + i + ": global tiles "
                            + Arrays.toString(got) + " vs reference " + Arrays.toString(want.globals()[i]));
                }
            }
            int differentRows = 0;
            int differentValues = 0;
            double worstRel = 0;
            for (int row = 0; row < bh * nq; row++) {
                boolean same = true;
                if (want.estimates() != null) {
                    for (int kt = 0; kt < nk; kt++) {
                        float a = est[row * nk + kt];
                        float e = want.estimates()[row * nk + kt];
                        if (Float.floatToRawIntBits(a) != Float.floatToRawIntBits(e)) {
                            same = false;
                            differentValues++;
                            worstRel = Math.max(worstRel, Math.abs(a - e) / Math.max(Math.abs(e), Float.MIN_NORMAL));
                        }
                    }
                }
                if (!same) {
                    differentRows++;
                    continue;
                }
                int[] got = Arrays.copyOfRange(list, row * nk, row * nk + count[row]);
                int[] ref = want.visits()[row];
                assertTrue(Arrays.equals(ref, got), policy.spec() + " (b*H+h)*nq+qt = " + row + ": list " + Arrays.toString(got)
                        + " vs reference " + Arrays.toString(ref));
            }
            System.out.printf("  %s: %d q-tiles x %d kv-tiles, estimate rows not bit-identical %d (%d values, worst rel %.2e)%n",
                    policy.spec(), bh * nq, nk, differentRows, differentValues, worstRel);
            assertTrue(worstRel <= 1e-6, policy.spec() + ": an estimate differs by " + worstRel + " relative");
            assertTrue(differentRows <= Math.max(1, MAX_DIFFERENT_ROWS * bh * nq),
                    policy.spec() + ": " + differentRows + " estimate rows differ from the reference's");
        }
    }
}
