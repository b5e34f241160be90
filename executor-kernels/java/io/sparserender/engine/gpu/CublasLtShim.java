package io.sparserender.engine.gpu;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The JNI shim ({@code executor-kernels/native/cublaslt_shim.c}) that reaches cuBLASLt without JCuda's
 * cuBLAS binding, which is linked against libcublas.so.12 and cannot load on CUDA 13 hosts. The shim
 * is packed in the jar, extracted to a temporary file and loaded once; it dlopens the first
 * {@code libcublasLt.so.N} that {@link GpuEnvironment#cublasLtCandidates()} names and that loads.
 * A host without cuBLASLt, or a jar built without gcc, gives a reason instead.
 */
public final class CublasLtShim {
    static final String RESOURCE = "native/linux-x86_64/libsparserender_cublaslt.so";

    /** What was found: the library and its version, or why not. */
    public record Status(boolean usable, String library, long version, String problem) {
        public String versionString() {
            // cublasLtGetVersion: major * 10000 + minor * 100 + patch (CUDA 11+)
            return version / 10000 + "." + (version / 100) % 100 + "." + version % 100;
        }
    }

    private static volatile Status status;
    private static volatile boolean libraryLoaded;

    private CublasLtShim() {}

    /** Loads the shim and cuBLASLt once per JVM; never throws. Needs no GPU. */
    public static Status probe() {
        Status s = status;
        if (s == null) {
            synchronized (CublasLtShim.class) {
                if (status == null) {
                    status = load();
                }
                s = status;
            }
        }
        return s;
    }

    private static Status load() {
        String os = System.getProperty("os.name", "") + "/" + System.getProperty("os.arch", "");
        if (!os.equals("Linux/amd64")) {
            return new Status(false, "", 0, "the cuBLASLt shim is built for Linux x86-64 only (this is " + os + ")");
        }
        try (InputStream in = CublasLtShim.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                return new Status(false, "", 0, "the cuBLASLt shim was not built into this jar (gcc missing at build time)");
            }
            Path dir = Files.createTempDirectory("sparse-render-native");
            Path lib = dir.resolve("libsparserender_cublaslt.so");
            Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
            lib.toFile().deleteOnExit();
            dir.toFile().deleteOnExit();
            System.load(lib.toString());
            libraryLoaded = true;
        } catch (IOException | UnsatisfiedLinkError e) {
            return new Status(false, "", 0, "cannot load the cuBLASLt shim: " + e.getMessage());
        }
        List<String> tried = new ArrayList<>();
        for (String candidate : GpuEnvironment.cublasLtCandidates()) {
            String problem = nativeOpen(candidate);
            if (problem == null) {
                return new Status(true, candidate, nativeVersion(), "");
            }
            tried.add(problem);
        }
        return new Status(false, "", 0, "no usable libcublasLt.so.N (" + String.join("; ", tried) + ")");
    }

    /** Whether the shim library itself is loaded (its tensor-map function needs no cuBLASLt). */
    static boolean libraryLoaded() {
        probe();
        return libraryLoaded;
    }

    /** Found library, or empty. */
    public static Optional<String> library() {
        Status s = probe();
        return s.usable() ? Optional.of(s.library()) : Optional.empty();
    }

    static native String nativeOpen(String path);

    static native long nativeVersion();

    static native int nativeCreate(long[] handle);

    static native int nativeDestroy(long handle);

    /**
     * C = epilogue(alpha . A . B^T [+ bias]); epilogue 0 for none, else a cublasLtEpilogue_t, bias a device
     * pointer or 0. Returns 0, a cublasStatus_t from the step stage[0] names, or -1 when no algorithm fits
     * (with an epilogue: cuBLASLt will not fuse it for this shape, nothing was launched).
     */
    static native int nativeMatmul(long handle, long a, long b, long c, int m, int n, int k, boolean outBf16, float alpha,
            int epilogue, long bias, long workspace, long workspaceBytes, long stream, int[] stage);

    /**
     * bf16 C[m, n] = scaleA[i] · scaleB[j] · Σ_k A[i][k] · B[j][k] (+ bias[j]) from E4M3 codes A [m, k] and B [n, k] with
     * float32 scales per row (cuBLASLt's outer-vector scales, 12.9 and later); epilogue 0 or BIAS (bias bf16 [n]).
     * Returns as {@link #nativeMatmul}; -1 where cuBLASLt has no FP8 algorithm for the shape (remembered per shape).
     */
    static native int nativeMatmulFp8(long handle, long a, long scaleA, long b, long scaleB, long c, int m, int n, int k,
            int epilogue, long bias, long workspace, long workspaceBytes, long stream, int[] stage);
}
