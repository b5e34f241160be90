package io.sparserender.jobs;

import io.sparserender.engine.gpu.AttentionKernel;
import io.sparserender.engine.gpu.CublasLtShim;
import io.sparserender.engine.gpu.GpuException;
import io.sparserender.engine.gpu.TensorMaps;
import io.sparserender.engine.gpu.FatbinImage;
import io.sparserender.engine.gpu.GpuEnvironment;
import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Reports what this machine offers: Java, the NVIDIA driver and devices, the architectures of the
 * packed kernels, cuBLASLt, Spark and Hadoop. Never fails on a machine without a GPU.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Report Java, NVIDIA driver and devices, packed kernel architectures, cuBLASLt and the GEMM it picks, the attention kernel, Spark and Hadoop.")
final class DoctorCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        line(out, "java", System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ", "
                + System.getProperty("java.home") + ")");
        Optional<FatbinImage> fatbin = FatbinImage.packed();
        line(out, "kernels", fatbin.map(f -> "packed fatbin, " + f.bytes().length / 1024 + " KiB: "
                        + String.join(" ", f.targets().stream().map(Object::toString).toList()))
                .orElse("not built (nvcc was not on the PATH when this jar was built)"));
        GpuEnvironment gpu = GpuEnvironment.probe();
        if (gpu.driverAvailable()) {
            line(out, "nvidia driver", "CUDA " + gpu.driverCudaVersion());
            if (gpu.devices().isEmpty()) {
                line(out, "devices", "none visible");
            }
            for (GpuEnvironment.Device d : gpu.devices()) {
                String runs = fatbin.map(f -> f.supports(d.ccMajor(), d.ccMinor())
                        ? "kernels cover it" : "kernels do NOT cover it (packed: " + f + ")").orElse("no kernels packed");
                line(out, "device " + d.index(), d.name() + ", compute " + d.computeCapability() + ", "
                        + d.totalMemoryBytes() / (1L << 20) + " MiB, " + runs);
            }
        } else {
            line(out, "nvidia driver", gpu.driverProblem().orElse("unavailable"));
            line(out, "devices", "none (the CPU backend still works)");
        }
        CublasLtShim.Status lt = CublasLtShim.probe();
        line(out, "cublasLt", lt.usable() ? "cuBLASLt " + lt.versionString() + " loaded from " + lt.library() + " through the JNI shim"
                : "not usable: " + lt.problem());
        String forced = System.getProperty("sparserender.gemm", System.getenv().getOrDefault("SPARSE_RENDER_GEMM", "auto"));
        boolean own = !lt.usable() || forced.equalsIgnoreCase("own");
        line(out, "gemm", (own ? "own bf16 tensor-core kernel" : "cuBLASLt " + lt.versionString())
                + " would be picked (SPARSE_RENDER_GEMM=" + forced + (own && !lt.usable() ? "; cuBLASLt not usable" : "")
                + (gpu.devices().isEmpty() ? "; no CUDA device here" : "") + ")");
        line(out, "attention", attentionKernel());
        line(out, "spark", sparkVersion());
        line(out, "hadoop", hadoopVersion());
        out.flush();
        return Main.EXIT_OK;
    }

    /** The configured attention kernel family and what runs on compute 9.0 and elsewhere. */
    private static String attentionKernel() {
        AttentionKernel k;
        try {
            k = AttentionKernel.configured();
        } catch (GpuException e) {
            return e.getMessage();
        }
        String hopper = k == AttentionKernel.WS && !TensorMaps.available()
                ? "ws needs the JNI shim for its TMA descriptors, which does not load here: wg1-lean runs instead"
                : k.label() + (k == AttentionKernel.WS ? " (D = 64 runs wg1-lean)" : "");
        return k.label() + " configured (" + AttentionKernel.ENV + "); on compute 9.0: " + hopper
                + "; other cards: mma-sync";
    }

    private static void line(PrintWriter out, String key, String value) {
        out.printf("%-15s %s%n", key, value);
    }

    private static String sparkVersion() {
        try {
            return org.apache.spark.package$.MODULE$.SPARK_VERSION();
        } catch (LinkageError e) {
            return "not on the classpath (engine-only bundle)";
        }
    }

    private static String hadoopVersion() {
        try {
            return org.apache.hadoop.util.VersionInfo.getVersion();
        } catch (LinkageError e) {
            return "not on the classpath (engine-only bundle)";
        }
    }
}
