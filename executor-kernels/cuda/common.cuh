// common.cuh: small helpers shared by the kernel files (all files are #included into one translation
// unit by build-fatbin.sh, so everything here is static/inline and guarded).
#pragma once
#include <stdint.h>
#include <cuda_bf16.h>

namespace sr {

// Loads element i of a buffer stored as float32 (BF16 == false) or bf16 (BF16 == true), as float.
template <bool BF16>
__device__ __forceinline__ float load_as_float(const void* p, long long i) {
    if constexpr (BF16) {
        return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(p)[i]);
    } else {
        return reinterpret_cast<const float*>(p)[i];
    }
}

// Stores v at element i, rounding to nearest even when the buffer is bf16.
template <bool BF16>
__device__ __forceinline__ void store_from_float(void* p, long long i, float v) {
    if constexpr (BF16) {
        reinterpret_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
    } else {
        reinterpret_cast<float*>(p)[i] = v;
    }
}

// Sum over a warp, every lane gets the result.
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// scratch: 32 floats of shared memory; the call begins and ends with a barrier so it can be reused.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float r = lane < warps ? scratch[lane] : 0.f;
    r = warp_sum(r);
    return r;
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float r = lane < warps ? scratch[lane] : -INFINITY;
    r = warp_max(r);
    return r;
}

}  // namespace sr
