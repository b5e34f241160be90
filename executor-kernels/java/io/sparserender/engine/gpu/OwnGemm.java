package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;

/**
 * The project's own bf16 tensor-core GEMM. Two kernels: on compute 9.0 (Hopper, sm_90a SASS) with
 * K % 8 == 0 and 16-byte aligned operands, {@code gemm_bf16_sm90.cu} (wgmma m64n256k16, 128 x 256 x 64
 * tiles); everywhere else {@code gemm_bf16.cu} (mma.sync m16n8k16, 128 x 256 x 32 tiles, 4-stage
 * cp.async pipeline), which also takes any K. Needs only the NVIDIA driver.
 */
public final class OwnGemm implements Gemm {
    static final String KERNEL_F32 = "gemm_bf16_f32out";
    static final String KERNEL_BF16 = "gemm_bf16_bf16out";
    static final String KERNEL_F32_UNALIGNED = "gemm_bf16_f32out_unaligned";
    static final String KERNEL_BF16_UNALIGNED = "gemm_bf16_bf16out_unaligned";
    static final String KERNEL_SM90_F32 = "gemm_bf16_sm90_f32out";
    static final String KERNEL_SM90_BF16 = "gemm_bf16_sm90_bf16out";
    /** 4 stages x (128 + 256) rows x 64 bf16 + 1024 for alignment: H_SMEM_BYTES in gemm_bf16_sm90.cu. */
    static final int SM90_SMEM_BYTES = 4 * (128 + 256) * 64 * 2 + 1024;
    static final int BM = 128;
    static final int BN = 256;
    static final int THREADS = 256;
    /** 4 stages x (128 + 256) rows x 32 bf16: must match GEMM_SMEM_BYTES in gemm_bf16.cu. */
    static final int SMEM_BYTES = 4 * (BM + BN) * 32 * 2;

    private final CudaDevice device;
    private final boolean hopper;

    /** @param allowHopper use the wgmma kernel where the device is compute 9.0 */
    OwnGemm(CudaDevice device, boolean allowHopper) {
        this.device = device;
        this.hopper = allowHopper && isHopper(device.info());
    }

    static boolean isHopper(GpuEnvironment.Device d) {
        return d.ccMajor() == 9 && d.ccMinor() == 0;
    }

    @Override
    public String name() {
        return hopper ? "own bf16 tensor-core kernel (wgmma sm_90a, 128x256x64 tiles; mma.sync for K % 8 != 0)"
                : "own bf16 tensor-core kernel (mma.sync, 128x256x32 tiles)";
    }

    /** The params struct of gemm_bf16.cu, field for field. */
    record Params(DeviceBuffer c, DeviceBuffer a, DeviceBuffer b, int m, int n, int k, float alpha) {
        KernelArgs.Struct struct() {
            return new KernelArgs.Struct().ptr(c).ptr(a).ptr(b).i32(m).i32(n).i32(k).f32(alpha);
        }
    }

    @Override
    public void matmul(DeviceBuffer a, DeviceBuffer b, DeviceBuffer c, float alpha) {
        int[] mnk = Gemm.shapes(a, b, c);
        int m = mnk[0], n = mnk[1], k = mnk[2];
        boolean aligned = k % 8 == 0 && a.address() % 16 == 0 && b.address() % 16 == 0;
        boolean bf16 = c.dtype() == DType.BF16;
        String kernel = aligned ? (bf16 ? KERNEL_BF16 : KERNEL_F32) : (bf16 ? KERNEL_BF16_UNALIGNED : KERNEL_F32_UNALIGNED);
        int smem = SMEM_BYTES;
        if (hopper && aligned) {
            kernel = bf16 ? KERNEL_SM90_BF16 : KERNEL_SM90_F32;
            smem = SM90_SMEM_BYTES;
        }
        long tiles = (long) ((m + BM - 1) / BM) * ((n + BN - 1) / BN);
        if (tiles > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("GEMM too large for one launch: " + m + " x " + n);
        }
        device.launch(kernel, (int) tiles, THREADS, smem,
                new KernelArgs().struct(new Params(c, a, b, m, n, k, alpha).struct()));
    }
}
