package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;

/**
 * cuBLASLt's bf16 GEMM with fp32 accumulation through {@link CublasLtShim}, on the device's compute
 * stream, with a 32 MiB workspace from the arena. Made on the GPU worker (cublasLtCreate needs the
 * current context).
 */
public final class CublasLtGemm implements Gemm {
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
        int[] mnk = Gemm.shapes(a, b, c);
        long pa = a.address(), pb = b.address(), pc = c.address(), ws = workspace.address();
        boolean bf16 = c.dtype() == DType.BF16;
        device.run(() -> {
            int[] stage = {0};
            int s = CublasLtShim.nativeMatmul(handle, pa, pb, pc, mnk[0], mnk[1], mnk[2], bf16, alpha, ws, WORKSPACE_BYTES,
                    streamHandle, stage);
            if (s != 0) {
                throw new GpuException("cuBLASLt " + (s < 0 ? "found no algorithm" : "error status " + s) + " at "
                        + STAGES[Math.min(stage[0], STAGES.length - 1)] + " for matmul " + mnk[0] + "x" + mnk[1] + "x" + mnk[2]
                        + " into " + c.dtype());
            }
            if (device.checkEveryLaunch()) {
                CudaCheck.check(jcuda.driver.JCudaDriver.cuStreamSynchronize(device.stream()), "cuStreamSynchronize after",
                        "cublasLtMatmul " + mnk[0] + "x" + mnk[1] + "x" + mnk[2]);
            }
        });
    }

    void destroy() {
        CublasLtShim.nativeDestroy(handle);
    }
}
