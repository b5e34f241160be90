package io.sparserender.engine.gpu;

import jcuda.driver.CUresult;

/** Turns every CUDA driver result into an exception that names the call and what it was for. */
public final class CudaCheck {
    private CudaCheck() {}

    /**
     * @param result the driver's return code
     * @param call the driver function, e.g. "cuLaunchKernel"
     * @param what the kernel, buffer or step it served, e.g. "kernel gemm_bf16_f32out"
     */
    public static void check(int result, String call, String what) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new GpuException(message(result, call, what));
        }
    }

    static String message(int result, String call, String what) {
        return "CUDA error " + CUresult.stringFor(result) + " (" + result + ") from " + call + " for " + what;
    }
}
