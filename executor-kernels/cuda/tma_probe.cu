// tma_probe.cu: the smallest use of a Hopper TMA tensor map (TensorMaps.java), the plumbing a producer-warp
// attention kernel needs: a 128-byte descriptor passed as a __grid_constant__ parameter, one
// cp.async.bulk.tensor 2-D box load completing on an mbarrier's transaction count, and the 128-byte swizzle
// it writes read back through swz128 (flash_attention_sm90.cuh: the layout the wgmma descriptors expect).
// Plain-Java twin: the test (TmaGpuTest) slices the same box out of the host matrix, zeros outside it.
#include <stdint.h>
#include <cuda_bf16.h>
#include "flash_attention_sm90.cuh"

namespace tma {
// CUtensorMap's size and alignment, without the driver header.
struct alignas(64) TensorMap {
    unsigned long long opaque[16];
};
}  // namespace tma

// Grid: 1 block of 128 threads, 64·64·2 + 1024 bytes of dynamic shared memory. out: [64][64] row-major,
// the box of 64 rows × 64 bf16 columns whose top-left element is (row0, col0).
extern "C" __global__ void __launch_bounds__(128) tma_probe_load_box(const __grid_constant__ tma::TensorMap map, int row0, int col0,
                                                                      __nv_bfloat16* out) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ char smem_raw_tma[];
    __shared__ uint64_t bar;
    const uint32_t box = ((uint32_t)__cvta_generic_to_shared(smem_raw_tma) + 1023u) & ~1023u;  // 128B swizzle: 1 KiB aligned
    const uint32_t b = (uint32_t)__cvta_generic_to_shared(&bar);
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n" ::"r"(b));
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(b), "r"(64 * 64 * 2) : "memory");
        asm volatile(
            "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(box),
            "l"(reinterpret_cast<uint64_t>(&map)), "r"(col0), "r"(row0), "r"(b)
            : "memory");
    }
    uint32_t done = 0;
    while (!done) {
        asm volatile(
            "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0;\nselp.u32 %0, 1, 0, p;\n}\n"
            : "=r"(done)
            : "r"(b)
            : "memory");
    }
    for (int i = threadIdx.x; i < 64 * 64; i += blockDim.x) {
        int r = i / 64, c = i % 64;
        uint32_t addr = box + fa90::swz128(r, c >> 3) + (c & 7) * 2;
        unsigned short v;
        asm volatile("ld.shared.u16 %0, [%1];\n" : "=h"(v) : "r"(addr));
        out[i] = __ushort_as_bfloat16(v);
    }
#else
    __trap();
#endif
}
