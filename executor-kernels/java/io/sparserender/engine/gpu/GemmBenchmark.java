package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.HalfFloats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Times both GEMM implementations on the device: bf16 A[M,K] . B[N,K]^T into bf16 C with fp32
 * accumulation, operands filled on the device from a hash; CUDA events around each product, median
 * of {@code iters} after {@code warmups}; TFLOP/s = 2 M N K / t. After timing, the two outputs are
 * compared element by element (max |own - cuBLASLt| / max |cuBLASLt|) as a cross-check.
 * Prints one JSON line per (implementation, shape), for bench/gemm_torch.py to tabulate.
 */
public final class GemmBenchmark {
    /** One measurement. */
    public record Result(String impl, String implName, int m, int n, int k, double medianMs, double tflops, double[] allMs) {
        public String json() {
            return String.format(Locale.ROOT,
                    "{\"impl\":\"%s\",\"name\":\"%s\",\"m\":%d,\"n\":%d,\"k\":%d,\"median_ms\":%.4f,\"tflops\":%.1f,\"all_ms\":%s}",
                    impl, implName.replace("\"", "'"), m, n, k, medianMs, tflops, Arrays.toString(allMs));
        }
    }

    private final CudaDevice device;
    private final CudaKernels ops;
    private final int warmups;
    private final int iters;

    public GemmBenchmark(CudaDevice device, int warmups, int iters) {
        this.device = device;
        this.ops = new CudaKernels(device);
        this.warmups = warmups;
        this.iters = iters;
    }

    /** Runs every available implementation on one shape; prints and returns the results. */
    public List<Result> run(int m, int n, int k, java.io.PrintStream out) {
        List<Result> results = new ArrayList<>();
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer a = ops.allocate(DType.BF16, m, k);
            DeviceBuffer b = ops.allocate(DType.BF16, n, k);
            ops.fillUniform(a, 1, -1f, 1f);
            ops.fillUniform(b, 2, -1f, 1f);
            DeviceBuffer cOwn = ops.allocate(DType.BF16, m, n);
            results.add(time("own", device.ownGemm(), a, b, cOwn, m, n, k));
            out.println(results.get(results.size() - 1).json());
            if (!device.ownGemm().name().equals(device.ownGemmMmaSync().name())) {
                DeviceBuffer cMma = ops.allocate(DType.BF16, m, n);
                results.add(time("own-mma-sync", device.ownGemmMmaSync(), a, b, cMma, m, n, k));
                out.println(results.get(results.size() - 1).json());
            }
            if (device.cublasLtGemm().isPresent()) {
                DeviceBuffer cLt = ops.allocate(DType.BF16, m, n);
                results.add(time("cublaslt", device.cublasLtGemm().get(), a, b, cLt, m, n, k));
                out.println(results.get(results.size() - 1).json());
                if ((long) m * n < Integer.MAX_VALUE - 8) {
                    out.println(String.format(Locale.ROOT, "{\"check\":\"own vs cublaslt\",\"m\":%d,\"n\":%d,\"k\":%d,%s}",
                            m, n, k, compare(cOwn.toShortArray(), cLt.toShortArray())));
                }
            } else {
                out.println("{\"impl\":\"cublaslt\",\"skipped\":\"" + device.cublasLtProblem().replace("\"", "'") + "\"}");
            }
        }
        return results;
    }

    private Result time(String impl, Gemm gemm, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, int m, int n, int k) {
        for (int i = 0; i < warmups; i++) {
            gemm.matmul(a, b, c, 1f);
        }
        device.synchronize();
        double[] ms = new double[iters];
        try (CudaEvent start = device.newEvent(); CudaEvent stop = device.newEvent()) {
            for (int i = 0; i < iters; i++) {
                start.record();
                gemm.matmul(a, b, c, 1f);
                stop.record();
                ms[i] = stop.elapsedMsSince(start);
            }
        }
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        double median = sorted[iters / 2];
        double tflops = 2.0 * m * n * k / (median * 1e-3) / 1e12;
        return new Result(impl, gemm.name(), m, n, k, median, tflops, ms);
    }

    /** Max |x - y|, max |y| and how many elements differ at all, as JSON fields. */
    private static String compare(short[] x, short[] y) {
        double maxDiff = 0;
        double maxAbs = 0;
        long differing = 0;
        long nan = 0;
        for (int i = 0; i < x.length; i++) {
            float fx = HalfFloats.bf16ToFloat(x[i]);
            float fy = HalfFloats.bf16ToFloat(y[i]);
            if (Float.isNaN(fx) || Float.isNaN(fy)) {
                nan++;
                continue;
            }
            maxDiff = Math.max(maxDiff, Math.abs(fx - fy));
            maxAbs = Math.max(maxAbs, Math.abs(fy));
            if (x[i] != y[i]) {
                differing++;
            }
        }
        return String.format(Locale.ROOT, "\"max_abs_diff\":%.4g,\"max_abs\":%.4g,\"differing_elements\":%d,\"nan_elements\":%d,\"elements\":%d",
                maxDiff, maxAbs, differing, nan, x.length);
    }

    /** Parses "MxNxK" into {M, N, K}. */
    public static int[] parseShape(String s) {
        String[] p = s.toLowerCase(Locale.ROOT).replace("_", "").replace(",", "").split("x");
        if (p.length != 3) {
            throw new IllegalArgumentException("Invalid GEMM shape '" + s + "': expected MxNxK, e.g. 8192x8192x8192");
        }
        try {
            int[] r = {Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2])};
            if (r[0] < 1 || r[1] < 1 || r[2] < 1) {
                throw new NumberFormatException();
            }
            return r;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Invalid GEMM shape '" + s + "': M, N, K must be positive integers");
        }
    }
}
