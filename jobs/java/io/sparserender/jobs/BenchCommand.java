package io.sparserender.jobs;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Reserved: filled by a later issue. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmarks (attention, GEMM, DiT forward).", "Not available in this build yet."})
final class BenchCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new IllegalStateException("'bench' is not available in this build yet");
    }
}
