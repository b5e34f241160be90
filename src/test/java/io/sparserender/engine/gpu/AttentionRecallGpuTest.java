package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.poisoned;
import static io.sparserender.testing.GpuTestDevice.random;
import static io.sparserender.testing.GpuTestDevice.roundBf16;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparserender.engine.attention.DenseReference;
import io.sparserender.engine.attention.ExactRecall;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.TileMask;
import io.sparserender.engine.attention.Tiling;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.attention.VideoLikeInputs;
import io.sparserender.engine.attention.VisitOrder;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.testing.RequiresGpu;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * attention_recall.cu against ExactRecall.rowRecalls (float64 dense reference) on the same bf16-rounded
 * q and k and a random keep mask (flags 0, 1 and 2 mixed): every output row written, each recall within
 * fp32 rounding of the reference; sampled heads in any order. With a q-tile stride (the DiT's sampled recall), exactly
 * the rows of q-tiles 0, stride, 2·stride, ... are written, and the host call returns those rows in order.
 */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class AttentionRecallGpuTest {
    @ParameterizedTest(name = "{0} B={1} L={2} H={3} D={4} br={5} bc={6} heads={7} stride={8}")
    @CsvSource(delimiter = '|', value = {
        "random | 1 | 1    | 1 | 64  | 64  | 64 | 0     | 1",
        "random | 2 | 100  | 3 | 128 | 64  | 32 | 2;0   | 1",
        "random | 1 | 130  | 2 | 64  | 64  | 64 | 1     | 1",
        "video  | 2 | 1000 | 3 | 128 | 64  | 32 | 0;1;2 | 1",
        "video  | 1 | 1000 | 2 | 128 | 64  | 64 | 1;0   | 1",
        // keep flags of 128-row q-tiles (the br = 128 listed kernel's): a last q-tile of 2 rows, one of 104
        "random | 1 | 130  | 2 | 128 | 128 | 64 | 1     | 1",
        "video  | 2 | 1000 | 3 | 128 | 128 | 64 | 2;0   | 1",
        // sampled q-tiles only: 16 q-tiles of 64 rows (the last of 40) with strides 3 and 5, a partial last sampled tile
        "video  | 2 | 1000 | 3 | 128 | 64  | 64 | 0;2   | 3",
        "video  | 1 | 1000 | 2 | 128 | 128 | 64 | 1     | 5",
    })
    void matchesTheReference(String kind, int batch, int seqLen, int heads, int headDim, int br, int bc, String sampledList,
                             int stride) {
        SplittableRandom r = random("recall " + kind + " " + batch + " " + seqLen + " " + heads + " " + headDim + " " + br + " " + bc);
        QkvInput raw = kind.equals("video")
                ? VideoLikeInputs.videoLike(batch, VideoGrid.parse("1x20x50"), heads, headDim, VideoLikeInputs.Knobs.defaults(), r.nextLong())
                : VideoLikeInputs.random(batch, seqLen, heads, headDim, 1.0, r.nextLong());
        int[] shape = raw.q().shape();
        assertEquals(seqLen, shape[1], "test setup: grid tokens");
        float[] q = roundBf16(raw.q().data());
        float[] k = roundBf16(raw.k().data());
        QkvInput in = new QkvInput(new Tensor(q, shape), new Tensor(k, shape), new Tensor(roundBf16(raw.v().data()), shape));
        int nq = (seqLen + br - 1) / br;
        int nk = (seqLen + bc - 1) / bc;
        int[] flags = new int[batch * heads * nq * nk];
        for (int i = 0; i < flags.length; i++) {
            flags[i] = r.nextInt(3); // 1 kept; 0 skipped in the loop; 2 skipped before QKᵀ
        }
        String[] parts = sampledList.split(";");
        int[] sampled = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            sampled[i] = Integer.parseInt(parts[i].trim());
        }
        double[] expected = ExactRecall.rowRecalls(DenseReference.compute(in, bc),
                TileMask.fromKeepFlags(batch, heads, nq, nk, flags), br);

        CudaKernels ops = ops();
        float[] got;
        float[] compact;
        Tiling tiling = new Tiling(br, bc, VisitOrder.NATURAL);
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer dq = ops.uploadBf16(q, shape);
            DeviceBuffer dk = ops.uploadBf16(k, shape);
            DeviceBuffer keep = ops.allocate(DType.I32, batch, heads, nq, nk);
            keep.copyFrom(flags);
            DeviceBuffer out = poisoned(DType.F32, batch, sampled.length, seqLen);
            new CudaRecall(ops).rowRecalls(dq, dk, keep, tiling, out, stride, sampled);
            got = out.toFloatArray();
            compact = new CudaRecall(ops).rowRecalls(dq, dk, keep, tiling, stride, sampled);
        }
        int n = 0;
        for (int b = 0; b < batch; b++) {
            for (int s = 0; s < sampled.length; s++) {
                for (int i = 0; i < seqLen; i++) {
                    float g = got[(b * sampled.length + s) * seqLen + i];
                    String where = "recall of (b " + b + ", head " + sampled[s] + ", row " + i + ")";
                    if ((i / 64) % stride != 0) {
                        assertEquals(io.sparserender.testing.GpuTestDevice.POISON32, Float.floatToRawIntBits(g),
                                where + ": outside the sampled q-tiles, must not be written");
                        continue;
                    }
                    double want = expected[(b * heads + sampled[s]) * seqLen + i];
                    assertTrue(!Float.isNaN(g), where + " never written");
                    assertEquals(want, g, 2e-5, where);
                    assertEquals(g, compact[n++], 0f, where + " in the host call's rows");
                }
            }
        }
        assertEquals(n, compact.length, "the host call's rows are the sampled q-tiles' rows");
    }
}
