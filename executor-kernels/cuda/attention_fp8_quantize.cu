// attention_fp8_quantize.cu: the 8-bit attention kernel's operands (flash_attention_sm90_ws_fp8.cu), from bf16 q, k, v
// [B, L, H, 128]: Q and K as INT8, V as FP8 E4M3 (SageAttention's split: QKᵀ in INT8 keeps 7 bits of every
// element against the largest of its group, where E4M3 keeps 3 bits of mantissa, and its products accumulate exactly in
// int32; P and V in [0, 1]-like ranges suit E4M3). Java twin: io.sparserender.engine.attention.Fp8Attention.
//
// Each scale is chosen where the kernel can apply it for free:
//   Q: one scale per row and head ([B, H, L]): a factor of the row's exponent argument;
//   K: one scale per 128-key block and head ([B, H, ceil(L/128)]): a factor of the whole block's scores;
//   V: one scale per channel and head ([B, H, 128]): a factor of O's column, applied once at the end.
// Q, K: scale amax / 127, code rint(x · (127 / amax)); V: scale amax / 448, code E4M3(x · (448 / amax)) rounded to
// nearest even with saturation; scale 1 and zero codes where amax = 0. Each step is one IEEE float operation as the
// twin does it (__fdiv_rn, __fmul_rn), so codes and scales are the twin's bit for bit.
//
// Vᵀ is written as [B·H, 128, Lp] codes (Lp = L rounded up to 32, keys past L zero), with the keys of each 32-key chunk
// in the order the kernel's P registers hold them (see slot_of_key): the PV product's A operand is then P straight
// from the QKᵀ accumulator, with no shuffle between lanes.
#include <stdint.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>

namespace attn8 {

constexpr int D = 128;
constexpr float E4M3_MAX = 448.f;
constexpr float I8_MAX = 127.f;

struct QuantizeParams {
    const __nv_bfloat16* in;   // [B, L, H, 128]
    int8_t* out;               // [B, L, H, 128] INT8 codes
    float* scale;              // Q: [B, H, L]; K: [B, H, ceil(L/128)]
    int batch;
    int seq_len;
    int heads;
};

struct VParams {
    const __nv_bfloat16* v;    // [B, L, H, 128]
    unsigned int* amax;        // [B, H, 128] float bits, zeroed before attn_fp8_v_amax
    uint8_t* vt;               // [B, H, 128, vt_stride] E4M3 codes, keys permuted within each 32-key chunk
    float* scale;              // [B, H, 128]
    int batch;
    int seq_len;
    int heads;
    int vt_stride;             // L rounded up to 32
};

__device__ __forceinline__ uint8_t e4m3(float v) {
    return (uint8_t)__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
}

// Position of key k (0..31) within its 32-key chunk of Vᵀ. The PV product's A operand (m64nNk32, 8-bit) gives lane
// t of a quad k slots 4t .. 4t + 3 and 16 + 4t .. 16 + 4t + 3, while the QKᵀ accumulator gives it columns 2t, 2t + 1,
// 8 + 2t, 9 + 2t (and 16 more): slot 4t + e holds key 8·(e/2) + 2t + e % 2. This is that map's inverse.
__device__ __forceinline__ int slot_of_key(int k) {
    return (k & 16) | (((k >> 1) & 3) << 2) | (((k >> 3) & 1) << 1) | (k & 1);
}

// Four bf16 of one lane (8 bytes at x) as floats.
__device__ __forceinline__ void load4(const __nv_bfloat16* x, float* f) {
    const uint2 w = *reinterpret_cast<const uint2*>(x);
    const float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&w.x));
    const float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&w.y));
    f[0] = a.x; f[1] = a.y; f[2] = b.x; f[3] = b.y;
}

__device__ __forceinline__ uint32_t int8(float v) {
    return (uint32_t)(uint8_t)(int8_t)max(-127, min(127, __float2int_rn(v)));
}

// Four values as INT8 codes in one word, the first in the low byte.
__device__ __forceinline__ uint32_t codes4(const float* f, float inv) {
    return int8(__fmul_rn(f[0], inv)) | (int8(__fmul_rn(f[1], inv)) << 8) | (int8(__fmul_rn(f[2], inv)) << 16)
           | (int8(__fmul_rn(f[3], inv)) << 24);
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

}  // namespace attn8

// Q: one warp per row of one head (128 values, 4 per lane). Grid: ceil(B·L·H / 8) blocks of 256 threads.
extern "C" __global__ void __launch_bounds__(256) attn_fp8_quantize_q(attn8::QuantizeParams p) {
    const long long rows = (long long)p.batch * p.seq_len * p.heads;
    const long long row = (long long)blockIdx.x * 8 + threadIdx.x / 32;
    if (row >= rows) return;
    const int lane = threadIdx.x & 31;
    float f[4];
    attn8::load4(p.in + row * attn8::D + lane * 4, f);
    float amax = attn8::warp_max(fmaxf(fmaxf(fabsf(f[0]), fabsf(f[1])), fmaxf(fabsf(f[2]), fabsf(f[3]))));
    const bool zero = amax == 0.f;
    const float inv = zero ? 0.f : __fdiv_rn(attn8::I8_MAX, amax);
    *reinterpret_cast<uint32_t*>(p.out + row * attn8::D + lane * 4) = attn8::codes4(f, inv);
    if (lane == 0) {
        const int h = (int)(row % p.heads);
        const long long bl = row / p.heads;
        const int b = (int)(bl / p.seq_len), l = (int)(bl % p.seq_len);
        p.scale[((long long)b * p.heads + h) * p.seq_len + l] = zero ? 1.f : __fdiv_rn(amax, attn8::I8_MAX);
    }
}

// K: one block of 256 threads per 128-key block of one head (each warp 16 keys): the block's amax, then its codes.
// Grid: B·H·ceil(L/128).
extern "C" __global__ void __launch_bounds__(256) attn_fp8_quantize_k(attn8::QuantizeParams p) {
    __shared__ float warp_amax[8];
    const int nb = (p.seq_len + 127) / 128;
    const int bh = blockIdx.x / nb, kb = blockIdx.x % nb;
    const int b = bh / p.heads, h = bh % p.heads;
    const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
    auto at = [&](int l) { return (((long long)b * p.seq_len + l) * p.heads + h) * attn8::D + lane * 4; };
    float amax = 0.f;
    for (int r = warp; r < 128; r += 8) {
        const int l = kb * 128 + r;
        if (l >= p.seq_len) break;
        float f[4];
        attn8::load4(p.in + at(l), f);
        amax = fmaxf(amax, fmaxf(fmaxf(fabsf(f[0]), fabsf(f[1])), fmaxf(fabsf(f[2]), fabsf(f[3]))));
    }
    amax = attn8::warp_max(amax);
    if (lane == 0) warp_amax[warp] = amax;
    __syncthreads();
    amax = 0.f;
    #pragma unroll
    for (int w = 0; w < 8; w++) amax = fmaxf(amax, warp_amax[w]);
    const bool zero = amax == 0.f;
    const float inv = zero ? 0.f : __fdiv_rn(attn8::I8_MAX, amax);
    if (threadIdx.x == 0) p.scale[(long long)bh * nb + kb] = zero ? 1.f : __fdiv_rn(amax, attn8::I8_MAX);
    for (int r = warp; r < 128; r += 8) {
        const int l = kb * 128 + r;
        if (l >= p.seq_len) break;
        float f[4];
        attn8::load4(p.in + at(l), f);
        *reinterpret_cast<uint32_t*>(p.out + at(l)) = attn8::codes4(f, inv);
    }
}

// V's amax per channel and head: one block of 128 threads (one per channel) per 128 keys of one head; the maxima of
// non-negative floats compare as their bits. Grid: B·H·ceil(L/128).
extern "C" __global__ void __launch_bounds__(128) attn_fp8_v_amax(attn8::VParams p) {
    const int nb = (p.seq_len + 127) / 128;
    const int bh = blockIdx.x / nb, kb = blockIdx.x % nb;
    const int b = bh / p.heads, h = bh % p.heads, d = threadIdx.x;
    float amax = 0.f;
    const int l1 = min(p.seq_len, kb * 128 + 128);
    for (int l = kb * 128; l < l1; l++) {
        amax = fmaxf(amax, fabsf(__bfloat162float(p.v[(((long long)b * p.seq_len + l) * p.heads + h) * attn8::D + d])));
    }
    atomicMax(&p.amax[(long long)bh * attn8::D + d], __float_as_uint(amax));
}

// Vᵀ codes and V's scales: one block of 256 threads per 64 keys of one head, through a shared [128][64] tile of codes.
// Grid: B·H·ceil(vt_stride/64).
extern "C" __global__ void __launch_bounds__(256) attn_fp8_quantize_vt(attn8::VParams p) {
    __shared__ uint32_t tile[attn8::D][64 / 4 + 1];
    __shared__ float inv[attn8::D];
    const int nc = (p.vt_stride + 63) / 64;
    const int bh = blockIdx.x / nc, l0 = (blockIdx.x % nc) * 64;
    const int b = bh / p.heads, h = bh % p.heads;
    if (threadIdx.x < attn8::D) {
        const float amax = __uint_as_float(p.amax[(long long)bh * attn8::D + threadIdx.x]);
        const bool zero = amax == 0.f;
        inv[threadIdx.x] = zero ? 0.f : __fdiv_rn(attn8::E4M3_MAX, amax);
        if (l0 == 0) p.scale[(long long)bh * attn8::D + threadIdx.x] = zero ? 1.f : __fdiv_rn(amax, attn8::E4M3_MAX);
    }
    uint8_t* bytes = reinterpret_cast<uint8_t*>(&tile[0][0]);
    __syncthreads();
    // Each thread: two channels (d, d + 1) of 16 keys; the byte for key r goes to the slot the kernel reads it from.
    for (int i = threadIdx.x; i < 64 * attn8::D / 2; i += 256) {
        const int r = i / (attn8::D / 2), d = 2 * (i % (attn8::D / 2)), l = l0 + r;
        float2 f = make_float2(0.f, 0.f);
        if (l < p.seq_len) {
            f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(
                    p.v + (((long long)b * p.seq_len + l) * p.heads + h) * attn8::D + d));
        }
        const int c = (r & 32) | attn8::slot_of_key(r & 31);
        bytes[d * (64 + 4) + c] = attn8::e4m3(__fmul_rn(f.x, inv[d]));
        bytes[(d + 1) * (64 + 4) + c] = attn8::e4m3(__fmul_rn(f.y, inv[d + 1]));
    }
    __syncthreads();
    const int words = min(64, p.vt_stride - l0) / 4;   // vt_stride and l0 are multiples of 32
    for (int i = threadIdx.x; i < attn8::D * 16; i += 256) {
        const int d = i / 16, w = i % 16;
        if (w < words) {
            *reinterpret_cast<uint32_t*>(p.vt + ((long long)bh * attn8::D + d) * p.vt_stride + l0 + 4 * w) = tile[d][w];
        }
    }
}
