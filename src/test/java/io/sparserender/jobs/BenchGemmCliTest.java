package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.sparserender.engine.gpu.GpuEnvironment;
import org.junit.jupiter.api.Test;

/** `bench gemm` without a GPU: one clear line, exit 1; a bad shape is refused before touching a device. */
class BenchGemmCliTest {
    private static String[] run(String... args) {
        CliTest.Result r = CliTest.run(args);
        return new String[] {String.valueOf(r.code()), r.out(), r.err()};
    }

    @Test
    void refusesABadShape() {
        String[] r = run("bench", "gemm", "--shape", "8192x8192");
        assertThat(r[0]).isNotEqualTo("0");
        assertThat(r[2]).contains("Invalid GEMM shape '8192x8192'").doesNotContain("Exception");
    }

    @Test
    void withoutAGpuSaysSoInOneLine() {
        assumeFalse(GpuEnvironment.probe().driverAvailable() && !GpuEnvironment.probe().devices().isEmpty(),
                "a GPU is present: the benchmark would run");
        String[] r = run("bench", "gemm", "--shape", "64x64x64");
        assertThat(r[0]).isEqualTo("1");
        assertThat(r[2]).contains("No CUDA device").doesNotContain("Exception").hasLineCount(1);
    }
}
