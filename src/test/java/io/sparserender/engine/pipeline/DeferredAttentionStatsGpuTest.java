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

    private static SelfAttention.Site site(int layer, VideoGrid g) {
        return new SelfAttention.Site(layer, 0, g.frames(), g.rows(), g.cols());
    }
}
