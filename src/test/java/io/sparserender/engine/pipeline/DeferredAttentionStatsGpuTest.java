package io.sparserender.engine.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.attention.VideoLikeInputs;
import io.sparserender.engine.gpu.CudaDevice;
import io.sparserender.engine.gpu.CudaOps;
import io.sparserender.engine.gpu.DeviceArena;
import io.sparserender.engine.gpu.DeviceBuffer;
import io.sparserender.engine.gpu.OpTimer;
import io.sparserender.engine.model.wan.SelfAttention;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.testing.GpuTestDevice;
import io.sparserender.testing.RequiresGpu;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The DiT's self-attention statistics read back in batches (CudaSelfAttention under an AttentionRecorder)
 * equal the ones read after each call, for more calls than the device has counter slots, each (step, layer)
 * reported once, with device time.
 */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class DeferredAttentionStatsGpuTest {
    @Test
    void batchedReadBackReportsEveryCallLikeTheImmediateOne() {
        CudaOps ops = GpuTestDevice.cudaOps();
        VideoGrid grid = VideoGrid.parse("2x10x21");
        QkvInput in = VideoLikeInputs.videoLike(1, grid, 2, 128, VideoLikeInputs.Knobs.defaults(), 11);
        String spec = "dynsparse:lambda=-5,br=64,bc=64";
        int layers = 30;
        int calls = CudaDevice.COUNTER_SLOTS + 45; // one roll-over of the counter slots and a partial batch
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer q = ops.fromHost(in.q());
            DeviceBuffer k = ops.fromHost(in.k());
            DeviceBuffer v = ops.fromHost(in.v());
            CudaSelfAttention immediate = CudaSelfAttention.forSpec(spec, OpTimer.OFF);
            Tensor expectedOut = ops.toHost(immediate.attend(ops, q, k, v, site(0, grid)));
            double[] expected = immediate.lastStatistics();
            assertThat(expected[0]).as("the input must make the policy skip something").isGreaterThan(0);

            AttentionRecorder<DeviceBuffer> recorder = new AttentionRecorder<>(CudaSelfAttention.forSpec(spec, OpTimer.OFF));
            DeviceBuffer last = null;
            for (int i = 0; i < calls; i++) {
                last = recorder.attend(ops, q, k, v, new SelfAttention.Site(i % layers, i / layers, grid.frames(), grid.rows(),
                        grid.cols()));
            }
            assertThat(ops.toHost(last).data()).containsExactly(expectedOut.data());
            List<LayerStepStats> stats = recorder.statistics();
            assertThat(stats).hasSize(calls);
            for (LayerStepStats s : stats) {
                assertThat(s.tileSparsity()).as("step %d layer %d", s.step(), s.layer()).isEqualTo(expected[0]);
                assertThat(s.computeSaved()).isEqualTo(expected[1]);
            }
            assertThat(recorder.attentionSeconds()).as("device time of the calls").isGreaterThan(0);
            assertThat(recorder.statistics()).as("a second read reports nothing twice").hasSize(calls);
        }
    }

    @Test
    void sampledStepsReportTheExactRecallOfHeadsZeroAndHalf() {
        CudaOps ops = GpuTestDevice.cudaOps();
        // 2,048 tokens, every row of heads 0 and 2 sampled
        VideoGrid grid = VideoGrid.parse("4x16x32");
        QkvInput raw = VideoLikeInputs.videoLike(2, grid, 4, 128, VideoLikeInputs.Knobs.defaults(), 5);
        int[] shape = raw.q().shape();
        QkvInput in = new QkvInput(new Tensor(GpuTestDevice.roundBf16(raw.q().data()), shape),
                new Tensor(GpuTestDevice.roundBf16(raw.k().data()), shape), new Tensor(GpuTestDevice.roundBf16(raw.v().data()), shape));
        String spec = "dynsparse:lambda=-5,br=64,bc=64";
        io.sparserender.engine.attention.AttentionPolicy policy = io.sparserender.engine.attention.PolicySpec.parse(spec);
        java.util.List<LayerStepStats> stats;
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer q = ops.fromHost(in.q());
            DeviceBuffer k = ops.fromHost(in.k());
            DeviceBuffer v = ops.fromHost(in.v());
            AttentionRecorder<DeviceBuffer> recorder = new AttentionRecorder<>(CudaSelfAttention.forSpec(spec, OpTimer.OFF));
            for (int step = 0; step < 2; step++) {
                recorder.attend(ops, q, k, v, new SelfAttention.Site(0, step, grid.frames(), grid.rows(), grid.cols()));
            }
            stats = recorder.statistics();
        }
        // the same call through the host API gives the keep mask; recall of heads 0 and 2 against the float64 dense pass
        io.sparserender.engine.gpu.CudaAttentionHost.Result call = new io.sparserender.engine.gpu.CudaAttentionHost(ops.device())
                .run(in, policy, io.sparserender.engine.attention.AttentionOptions.withGrid(grid));
        double[] rows = io.sparserender.engine.attention.ExactRecall.rowRecalls(
                io.sparserender.engine.attention.DenseReference.compute(in, 64), call.mask(), 64);
        int seqLen = grid.tokens();
        double[] sampled = new double[2 * 2 * seqLen];
        int n = 0;
        for (int b = 0; b < 2; b++) {
            for (int h : new int[] {0, 2}) {
                for (int i = 0; i < seqLen; i++) {
                    sampled[n++] = rows[(b * 4 + h) * seqLen + i];
                }
            }
        }
        double mean = java.util.Arrays.stream(sampled).average().orElseThrow();
        java.util.Arrays.sort(sampled);
        double p05 = sampled[(int) Math.ceil(0.05 * sampled.length) - 1];
        assertThat(call.stats().tileSparsity()).as("the input must make the policy skip something").isGreaterThan(0);
        assertThat(mean).as("skipped tiles must cost some recall").isLessThan(1);
        assertThat(stats).hasSize(2);
        assertThat(stats.get(0).recallMean()).as("step 0 is sampled").isCloseTo(mean, org.assertj.core.data.Offset.offset(1e-4));
        assertThat(stats.get(0).recallP05()).isCloseTo(p05, org.assertj.core.data.Offset.offset(1e-4));
        assertThat(stats.get(1).recallMean()).as("step 1 is not").isNaN();
    }

    private static SelfAttention.Site site(int layer, VideoGrid g) {
        return new SelfAttention.Site(layer, 0, g.frames(), g.rows(), g.cols());
    }
}
