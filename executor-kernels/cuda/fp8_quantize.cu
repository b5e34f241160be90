// fp8_quantize.cu: bf16 rows to FP8 E4M3 with one scale per row, the operands of the FP8 GEMM (cuBLASLt with
// outer-vector scales: C[i][j] = scale_a[i] · scale_b[j] · Σ_k a8[i][k] · b8[j][k]). Java twin:
// io.sparserender.engine.ops.reference.Fp8Rows (and Fp8E4M3 for the rounding).
//
// Per row: amax = max |x| (exact in any order); amax = 0 gives scale 1 and codes ±0 (x · 0); else
// inv = 448 / amax, code = E4M3(x · inv) rounded to nearest even with saturation to ±448 (cvt.rn.satfinite), and
// scale = amax / 448, so code · scale ≈ x and the row's largest element maps to ±448. Every operation is one IEEE
// float operation in the twin's order (__fdiv_rn, __fmul_rn), so the codes and scales are the twin's bit for bit.
#include <stdint.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>

namespace fp8q {

struct Params {
    const __nv_bfloat16* in;   // [rows, cols], row stride cols
    uint8_t* out;              // [rows, cols] E4M3 codes
    float* scale;              // [rows]
    long long rows;
    int cols;
    int vec;                   // 1: cols % 8 == 0 and in, out 16- and 8-byte aligned: 8 elements per load
};

constexpr int THREADS = 256;
constexpr float E4M3_MAX = 448.f;

__device__ __forceinline__ uint8_t e4m3(float v) {
    return (uint8_t)__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
}

}  // namespace fp8q

// Grid: one block of 256 threads per row (grid-stride over rows past 2^31 − 1 blocks is not needed: rows < 2^31).
extern "C" __global__ void __launch_bounds__(fp8q::THREADS) fp8_quantize_rows_bf16(fp8q::Params p) {
    __shared__ float warp_max[fp8q::THREADS / 32];
    const long long row = blockIdx.x;
    const int n = p.cols;
    const __nv_bfloat16* x = p.in + row * n;
    uint8_t* q = p.out + row * n;
    float amax = 0.f;
    if (p.vec) {
        for (int c = threadIdx.x * 8; c < n; c += fp8q::THREADS * 8) {
            const uint4 w = *reinterpret_cast<const uint4*>(x + c);
            const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&w);
            #pragma unroll
            for (int i = 0; i < 4; i++) {
                const float2 f = __bfloat1622float2(h[i]);
                amax = fmaxf(amax, fmaxf(fabsf(f.x), fabsf(f.y)));
            }
        }
    } else {
        for (int c = threadIdx.x; c < n; c += fp8q::THREADS) amax = fmaxf(amax, fabsf(__bfloat162float(x[c])));
    }
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    if ((threadIdx.x & 31) == 0) warp_max[threadIdx.x >> 5] = amax;
    __syncthreads();
    amax = 0.f;
    #pragma unroll
    for (int w = 0; w < fp8q::THREADS / 32; w++) amax = fmaxf(amax, warp_max[w]);
    const bool zero = amax == 0.f;
    const float inv = zero ? 0.f : __fdiv_rn(fp8q::E4M3_MAX, amax);
    if (threadIdx.x == 0) p.scale[row] = zero ? 1.f : __fdiv_rn(amax, fp8q::E4M3_MAX);
    if (p.vec) {
        for (int c = threadIdx.x * 8; c < n; c += fp8q::THREADS * 8) {
            const uint4 w = *reinterpret_cast<const uint4*>(x + c);
            const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&w);
            uint32_t lo = 0, hi = 0;
            #pragma unroll
            for (int i = 0; i < 4; i++) {
                const float2 f = __bfloat1622float2(h[i]);
                const uint32_t pair = (uint32_t)fp8q::e4m3(__fmul_rn(f.x, inv)) | ((uint32_t)fp8q::e4m3(__fmul_rn(f.y, inv)) << 8);
                if (i < 2) lo |= pair << (16 * i); else hi |= pair << (16 * (i - 2));
            }
            *reinterpret_cast<uint2*>(q + c) = make_uint2(lo, hi);
        }
    } else {
        for (int c = threadIdx.x; c < n; c += fp8q::THREADS) q[c] = fp8q::e4m3(__fmul_rn(__bfloat162float(x[c]), inv));
    }
}
