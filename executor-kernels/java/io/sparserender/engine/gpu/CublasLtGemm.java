package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;

/**
 * cuBLASLt's bf16 GEMM with fp32 accumulation through {@link CublasLtShim}, on the device's compute
 * stream, with a 32 MiB workspace from the arena. Made on the GPU worker (cublasLtCreate needs the
 * current context). Bias and GELU(tanh) epilogues are fused where cuBLASLt offers an algorithm for them
 * (cuBLASLt's GELU epilogue is the tanh approximation); where it does not, the epilogue call says so and
 * the caller adds them in passes of its own (said once per epilogue in the log).
 */
public final class CublasLtGemm implements Gemm {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CublasLtGemm.class);
    static final int WORKSPACE_BYTES = 32 << 20;
    private static final String[] STAGES = {"cublasLtMatmulDescCreate/SetAttribute", "cublasLtMatrixLayoutCreate",
        "cublasLtMatmulPreference", "cublasLtMatmulAlgoGetHeuristic", "cublasLtMatmul"};

    private final CudaDevice device;
    private final CublasLtShim.Status status;
    private final long handle;
    private final DeviceBuffer workspace;
    private final long streamHandle;

    CublasLtGemm(CudaDevice device) {
        this.device = device;
        this.status = CublasLtShim.probe();
        if (!status.usable()) {
            throw new GpuException("cuBLASLt not usable: " + status.problem());
        }
        long[] h = {0};
        int s = CublasLtShim.nativeCreate(h);
        if (s != 0) {
            throw new GpuException("cuBLASLt not usable: cublasLtCreate returned status " + s + " (" + status.library() + ")");
        }
        this.handle = h[0];
        this.workspace = device.arena().allocate(DType.BF16, WORKSPACE_BYTES / 2);
        this.streamHandle = NativeHandles.of(device.stream());
    }

    @Override
    public String name() {
        return "cublasLt " + status.versionString() + " (" + status.library() + ")";
    }

    @Override
    public void matmul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, float alpha) {
        run(a, b, c, alpha, null, null);
    }

    @Override
    public boolean matmul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, Epilogue epilogue, DeviceBuffer bias) {
        Gemm.checkEpilogue(c, epilogue, bias);
        if (epilogue != Epilogue.BIAS && c.dtype() == DType.BF16) {
            // Measured on an H100 (cuBLASLt 13.1): its GELU epilogue into bf16 is off by up to 1.5 % of the result
            // (0.0109 for 0.0158, 0.699 for 0.689), beyond bf16 rounding; refused here, so callers run GELU themselves.
            return false;
        }
        return run(a, b, c, 1f, epilogue, bias);
    }

    /** FP8 shapes cuBLASLt refused (said once per shape in the log). */
    private final java.util.Set<String> fp8RefusedOnce = new java.util.HashSet<>();

    @Override
    public boolean matmulFp8(Fp8Matrix a, Fp8Matrix b, DeviceBuffer c, Epilogue epilogue, DeviceBuffer bias) {
        Gemm.checkFp8(a, b, c, epilogue, bias);
        int m = a.rows(), n = b.rows(), k = a.cols();
        long pa = a.codes().address(), psa = a.scales().address(), pb = b.codes().address(), psb = b.scales().address();
        long pc = c.address(), ws = workspace.address(), pbias = bias == null ? 0L : bias.address();
        int epi = epilogue == null ? 0 : epilogue.cublasLt;
        String what = "fp8 matmul " + m + "x" + n + "x" + k + (epilogue == null ? "" : " with epilogue " + epilogue);
        device.noteLaunch("cublasLt " + m + "x" + n + "x" + k + (epilogue == null ? "" : " " + epilogue) + " fp8");
        return device.call(() -> {
            int[] stage = {0};
            int s = CublasLtShim.nativeMatmulFp8(handle, pa, psa, pb, psb, pc, m, n, k, epi, pbias, ws, WORKSPACE_BYTES,
                    streamHandle, stage);
            // refused: no FP8 algorithm or layout for this shape (e.g. k not a multiple of 16), or this cuBLASLt lacks the
            // outer-vector scale attributes; only the product itself failing (stage 4) is an error
            if (s < 0 || s > 0 && stage[0] < 4) {
                synchronized (fp8RefusedOnce) {
                    if (fp8RefusedOnce.add(m + "x" + n + "x" + k)) {
                        LOG.info("cuBLASLt {} has no {} (status {} at {}): that product runs in bf16", status.versionString(),
                                what, s, STAGES[Math.min(stage[0], STAGES.length - 1)]);
                    }
                }
                return false;
            }
            if (s != 0) {
                throw new GpuException("cuBLASLt error status " + s + " at " + STAGES[Math.min(stage[0], STAGES.length - 1)]
                        + " for " + what);
            }
            if (device.checkEveryLaunch()) {
                CudaCheck.check(jcuda.driver.JCudaDriver.cuStreamSynchronize(device.stream()), "cuStreamSynchronize after",
                        "cublasLtMatmul " + what);
            }
            return true;
        });
    }

    /** Epilogues cuBLASLt refused at least once (each said once in the log). */
    private final java.util.Set<Epilogue> refusedOnce = java.util.EnumSet.noneOf(Epilogue.class);

    /** false only for an epilogue cuBLASLt will not fuse here (nothing launched); errors throw. */
    private boolean run(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, float alpha, Epilogue epilogue, DeviceBuffer bias) {
        int[] mnk = Gemm.shapes(a, b, c);
        long pa = a.address(), pb = b.address(), pc = c.address(), ws = workspace.address();
        long pbias = bias == null ? 0L : bias.address();
        int epi = epilogue == null ? 0 : epilogue.cublasLt;
        boolean bf16 = c.dtype() == DType.BF16;
        device.noteLaunch("cublasLt " + mnk[0] + "x" + mnk[1] + "x" + mnk[2] + (epilogue == null ? "" : " " + epilogue)
                + (bf16 ? " bf16" : " f32"));
        return device.call(() -> {
            int[] stage = {0};
            int s = CublasLtShim.nativeMatmul(handle, pa, pb, pc, mnk[0], mnk[1], mnk[2], bf16, alpha, epi, pbias, ws,
                    WORKSPACE_BYTES, streamHandle, stage);
            String what = "matmul " + mnk[0] + "x" + mnk[1] + "x" + mnk[2] + " into " + c.dtype()
                    + (epilogue == null ? "" : " with epilogue " + epilogue);
            // refused: no algorithm fuses the epilogue for this shape, or this cuBLASLt lacks the epilogue attributes
            if (epilogue != null && (s < 0 || s > 0 && stage[0] == 0)) {
                synchronized (refusedOnce) {
                    if (refusedOnce.add(epilogue)) {
                        LOG.info("cuBLASLt {} will not fuse {} (status {} at {}): that epilogue runs as a pass of its own"
                                + " where refused", status.versionString(), what, s, STAGES[Math.min(stage[0], STAGES.length - 1)]);
                    }
                }
                return false;
            }
            if (s != 0) {
                throw new GpuException("cuBLASLt " + (s < 0 ? "found no algorithm" : "error status " + s) + " at "
                        + STAGES[Math.min(stage[0], STAGES.length - 1)] + " for " + what);
            }
            if (device.checkEveryLaunch()) {
                CudaCheck.check(jcuda.driver.JCudaDriver.cuStreamSynchronize(device.stream()), "cuStreamSynchronize after",
                        "cublasLtMatmul " + what);
            }
            return true;
        });
    }

    void destroy() {
        CublasLtShim.nativeDestroy(handle);
    }
}
