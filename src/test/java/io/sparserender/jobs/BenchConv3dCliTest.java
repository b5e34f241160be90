package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.sparserender.engine.gpu.GpuEnvironment;
import org.junit.jupiter.api.Test;

/** `bench conv3d` without a GPU: one clear line, exit 1; bad options are refused before touching a device. */
class BenchConv3dCliTest {
    @Test
    void refusesBadOptionsNamingThem() {
        CliTest.Result shape = CliTest.run("bench", "conv3d", "--shape", "256x6x352:256:3x3x3");
        assertThat(shape.code()).isNotZero();
        assertThat(shape.err()).contains("--shape").contains("'256x6x352:256:3x3x3'").contains("CxTxHxW:O:KTxKHxKW")
                .doesNotContain("Exception");
        CliTest.Result small = CliTest.run("bench", "conv3d", "--shape", "8x2x4x4:8:3x3x3");
        assertThat(small.code()).isNotZero();
        assertThat(small.err()).contains("smaller than kernel [3, 3, 3]");
        CliTest.Result tile = CliTest.run("bench", "conv3d", "--shape", "8x3x4x4:8:3x3x3", "--tile", "48");
        assertThat(tile.code()).isNotZero();
        assertThat(tile.err()).contains("--tile 48").contains("sm90");
        CliTest.Result dtype = CliTest.run("bench", "conv3d", "--shape", "8x3x4x4:8:3x3x3", "--dtype", "f16");
        assertThat(dtype.err()).contains("--dtype f16");
    }

    @Test
    void withoutAGpuSaysSoInOneLine() {
        assumeFalse(GpuEnvironment.probe().driverAvailable() && !GpuEnvironment.probe().devices().isEmpty(),
                "a GPU is present: the benchmark would run");
        CliTest.Result r = CliTest.run("bench", "conv3d", "--shape", "8x3x4x4:8:3x3x3");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("No CUDA device").doesNotContain("Exception").hasLineCount(1);
    }
}
