package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.gpu.CudaOps;
import io.sparserender.engine.gpu.DeviceArena;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.testing.GpuTestDevice;
import io.sparserender.testing.RequiresGpu;
import org.junit.jupiter.api.Test;

/** The RoPE tables the CUDA backend assembles from the per-axis tables equal the host's, bit for bit, as float32. */
@RequiresGpu
@SuppressWarnings("try")
class Rope3dGpuTest {
    @Test
    void deviceTablesEqualTheHostTables() {
        CudaOps g = GpuTestDevice.cudaOps();
        Rope3d rope = new Rope3d(128, 1024);
        Rope3d.Tables<Tensor> host = rope.tables(new CpuOps(), 5, 11, 20);
        GpuTestDevice.poisonFreeArena();
        try (DeviceArena.Scope s = g.device().arena().scope()) {
            Tensor[] dev = g.device().call(() -> {
                var t = rope.tables(g, 5, 11, 20);
                assertThat(t.cos().dtype()).isEqualTo(DType.F32);
                assertThat(t.cos().shape()).containsExactly(5 * 11 * 20, 1, 64, 1);
                return new Tensor[] {g.toHost(t.cos()), g.toHost(t.sin())};
            });
            assertThat(dev[0].data()).containsExactly(host.cos().data());
            assertThat(dev[1].data()).containsExactly(host.sin().data());
        }
    }
}
