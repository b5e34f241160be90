package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.sparserender.engine.gpu.GpuEnvironment;
import org.junit.jupiter.api.Test;

/** `bench attention` without a GPU: bad shapes and policies the kernel does not run are refused first. */
class BenchAttentionCliTest {
    private static String[] run(String... args) {
        CliTest.Result r = CliTest.run(args);
        return new String[] {String.valueOf(r.code()), r.out(), r.err()};
    }

    @Test
    void refusesABadShape() {
        String[] r = run("bench", "attention", "--shape", "1:31x22:24:128");
        assertThat(r[0]).isNotEqualTo("0");
        assertThat(r[2]).contains("--shape 1:31x22:24:128").doesNotContain("Exception");
        r = run("bench", "attention", "--shape", "1:31x22x40:24");
        assertThat(r[0]).isNotEqualTo("0");
        assertThat(r[2]).contains("expected B:FRAMESxROWSxCOLS:H:D");
    }

    @Test
    void refusesTilingsAndHeadDimsTheKernelsDoNotRun() {
        for (String spec : new String[] {"dense:br=128,bc=64", "dense:br=64,bc=128", "topk:k=4,br=64,bc=16"}) {
            String[] r = run("bench", "attention", "--shape", "1:2x4x8:2:128", "--policy", spec);
            assertThat(r[0]).as(spec).isEqualTo("2");
            assertThat(r[2]).as(spec).contains("is not run by the kernels at D = 128: tiling").doesNotContain("Exception");
        }
        String[] r = run("bench", "attention", "--shape", "1:2x4x8:2:96", "--policy", "dense:br=64,bc=64");
        assertThat(r[2]).contains("is not run by the kernels at D = 96: head dim 96");
        r = run("bench", "attention", "--shape", "1:2x4x8:2:64", "--policy", "recall:r=2");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("Invalid policy spec 'recall:r=2'").doesNotContain("Exception");
    }

    @Test
    void refusesAnUnknownKernelNamingTheFlag() {
        String[] r = run("bench", "attention", "--shape", "1:2x4x8:2:128", "--kernel", "wg1,wg3");
        assertThat(r[0]).isEqualTo("2");
        assertThat(r[2]).contains("Invalid attention kernel 'wg3' (--kernel)").contains("wg1").contains("wg2")
                .contains("mma-sync").doesNotContain("Exception");
    }

    @Test
    void withoutAGpuSaysSoInOneLine() {
        assumeFalse(GpuEnvironment.probe().driverAvailable() && !GpuEnvironment.probe().devices().isEmpty(),
                "a GPU is present: the benchmark would run");
        // Every policy, order and bound passes the checks and reaches the device.
        String[] r = run("bench", "attention", "--shape", "1:2x4x8:2:64", "--policy",
                "dense:br=64,bc=64;topk:k=2,br=64,bc=32,order=local;hybrid:r=0.9,bound=binned;recall:r=0.9,bound=exact,order=estimate");
        assertThat(r[0]).isEqualTo("1");
        assertThat(r[2]).contains("No CUDA device").doesNotContain("Exception").hasLineCount(1);
    }
}
