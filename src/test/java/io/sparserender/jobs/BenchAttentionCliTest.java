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
    void refusesPoliciesTheKernelDoesNotRun() {
        for (String spec : new String[] {"topk:k=4,br=64,bc=64", "dense:br=128,bc=64", "dense:br=64,bc=128",
                "recall:r=0.9,bound=exact,br=64,bc=64", "dense:br=64,bc=64,order=local"}) {
            String[] r = run("bench", "attention", "--shape", "1:2x4x8:2:128", "--policy", spec);
            assertThat(r[0]).as(spec).isNotEqualTo("0");
            assertThat(r[2]).as(spec).contains("is not run by the kernel").doesNotContain("Exception");
        }
        String[] r = run("bench", "attention", "--shape", "1:2x4x8:2:96", "--policy", "dense:br=64,bc=64");
        assertThat(r[2]).contains("is not run by the kernel at D = 96");
    }

    @Test
    void withoutAGpuSaysSoInOneLine() {
        assumeFalse(GpuEnvironment.probe().driverAvailable() && !GpuEnvironment.probe().devices().isEmpty(),
                "a GPU is present: the benchmark would run");
        String[] r = run("bench", "attention", "--shape", "1:2x4x8:2:64", "--policy", "dense:br=64,bc=64");
        assertThat(r[0]).isEqualTo("1");
        assertThat(r[2]).contains("No CUDA device").doesNotContain("Exception").hasLineCount(1);
    }
}
