package io.sparserender.jobs;

import io.sparserender.engine.gpu.CudaDevice;
import io.sparserender.engine.gpu.GemmBenchmark;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Benchmarks; `bench gemm` times both GEMM implementations on the device. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmarks (attention, GEMM, DiT forward).", "Available: gemm."},
        subcommands = {BenchCommand.Gemm.class})
final class BenchCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new UsageException("choose a benchmark: gemm");
    }

    @Command(name = "gemm", mixinStandardHelpOptions = true,
            description = {"Time the GEMM implementations (own kernel, cuBLASLt) on the GPU: bf16 in, fp32 accumulate, bf16 out.",
                "One JSON line per implementation and shape; median of --iters after --warmups (CUDA events)."})
    static final class Gemm implements Callable<Integer> {
        @Option(names = "--shape", split = ";", description = "MxNxK, repeatable (default: 8192^3 and the TI2V-5B DiT's three)")
        List<String> shapes = List.of("8192x8192x8192", "27280x3072x3072", "27280x14336x3072", "27280x3072x14336");

        @Option(names = "--warmups", defaultValue = "2")
        int warmups;

        @Option(names = "--iters", defaultValue = "5")
        int iters;

        @Option(names = "--arena-gib", defaultValue = "6", description = "device memory reserved for the operands")
        long arenaGib;

        @Override
        public Integer call() {
            for (String s : shapes) {
                GemmBenchmark.parseShape(s);
            }
            CudaDevice device = CudaDevice.open(CudaDevice.Options.defaults().withArenaBytes(arenaGib << 30));
            System.out.println("{\"device\":\"" + device.info().name() + "\",\"gemm_chosen\":\"" + device.gemm().name() + "\"}");
            GemmBenchmark bench = new GemmBenchmark(device, warmups, iters);
            for (String s : shapes) {
                int[] mnk = GemmBenchmark.parseShape(s);
                bench.run(mnk[0], mnk[1], mnk[2], System.out);
            }
            return Main.EXIT_OK;
        }
    }
}
