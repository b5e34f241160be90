// vae_ops.cu: the Wan VAE decoder's memory-bound operations over channels-first video [C, T, H, W].
// float32 or bf16 storage (output dtype = input dtype), fp32 math, rounded once on store.
//   channel_rms_norm_*: y[c, p] = x[c, p] * sqrt(C) / max(||x[:, p]||_2, 1e-12) * gamma[c] (+ beta[c]),
//                       then SiLU when params.silu != 0 (the residual blocks' norm -> SiLU, fused);
//                       Java twin: CpuOps.channelRmsNorm (then reference.Elementwise.silu).
//   upsample_nearest2x_u16/u32: [..., H, W] -> [..., 2H, 2W], each element copied to a 2 x 2 block (a copy
//                       of bits: u16 serves bf16, u32 float32); Java twin: CpuOps.upsampleNearest2x.
//   repeat_interleave_u16/u32: every slice along one dimension repeated r times in a row
//                       (torch.repeat_interleave); a copy of bits; Java twin: CpuOps.repeatInterleave.
//   clamp_*:            min(max(x, lo), hi), NaN stays NaN (as Java's Math.min/max); Java twin: CpuOps.clamp.
// Test: VaeOpsGpuTest. Host side: CudaVaeKernels. Launch: grid-stride, any sizes, 256 threads.
#include "common.cuh"

namespace {

struct ChannelRmsNormParams {
    void* out;              // [C, P] (P = everything after the channel dimension), x's dtype
    const void* x;          // [C, P]
    const float* gamma;     // [C]
    const float* beta;      // [C] or null
    long long positions;    // P
    int channels;           // C
    int silu;               // 1: SiLU after the norm
};

// One thread per position p: two passes over the C values x[c * P + p] (consecutive threads read
// consecutive p, so every pass is coalesced; unrolled so each thread has 8 loads in flight); the sum of
// squares in fp32.
template <bool BF16>
__device__ void vae_channel_rms_norm(const ChannelRmsNormParams p) {
    const float sqrt_c = sqrtf((float)p.channels);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.positions; i += (long long)gridDim.x * blockDim.x) {
        float ss = 0.f;
        #pragma unroll 8
        for (int c = 0; c < p.channels; c++) {
            float v = sr::load_as_float<BF16>(p.x, c * p.positions + i);
            ss = fmaf(v, v, ss);
        }
        const float inv = sqrt_c / fmaxf(sqrtf(ss), 1e-12f);
        #pragma unroll 8
        for (int c = 0; c < p.channels; c++) {
            const long long e = c * p.positions + i;
            float v = sr::load_as_float<BF16>(p.x, e) * inv * p.gamma[c];
            if (p.beta != nullptr) v += p.beta[c];
            if (p.silu) v = v / (1.f + expf(-v));
            sr::store_from_float<BF16>(p.out, e, v);
        }
    }
}

// One thread per output pair (2 horizontal neighbours, the same source element); x is [outer, H, W], out
// [outer, 2H, 2W] = outer * 2H rows of W pairs, pair q at elements 2q and 2q + 1.
template <typename E, typename E2>
__device__ void vae_upsample_nearest2x(E2* __restrict__ out, const E* __restrict__ x, long long outer_n, int h, int w) {
    const long long pairs = outer_n * 2 * h * (long long)w;
    for (long long q = blockIdx.x * (long long)blockDim.x + threadIdx.x; q < pairs; q += (long long)gridDim.x * blockDim.x) {
        const long long out_row = q / w;        // (outer, oh)
        const int col = (int)(q - out_row * w); // input column
        const long long outer = out_row / (2 * h);
        const int oh = (int)(out_row - outer * 2 * h);
        const E v = x[(outer * h + (oh >> 1)) * w + col];
        E2 pair;
        pair.x = v;
        pair.y = v;
        out[q] = pair;  // out element (out_row, 2 col) and (out_row, 2 col + 1)
    }
}

// out[(s * reps + j) * inner + k] = x[s * inner + k] for every slice s, copy j < reps and k < inner.
template <typename E, typename I>
__device__ void vae_repeat_interleave(E* __restrict__ out, const E* __restrict__ x, I n_out, I inner, I reps) {
    for (I e = blockIdx.x * (I)blockDim.x + threadIdx.x; e < n_out; e += (I)gridDim.x * blockDim.x) {
        const I slab = e / inner;
        const I k = e - slab * inner;
        out[e] = x[(slab / reps) * inner + k];
    }
}

template <bool BF16>
__device__ void vae_clamp(void* out, const void* x, float lo, float hi, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float v = sr::load_as_float<BF16>(x, i);
        v = v < lo ? lo : v;  // comparisons with NaN are false: NaN passes through
        v = v > hi ? hi : v;
        sr::store_from_float<BF16>(out, i, v);
    }
}

}  // namespace

extern "C" __global__ void channel_rms_norm_f32(const ChannelRmsNormParams p) { vae_channel_rms_norm<false>(p); }
extern "C" __global__ void channel_rms_norm_bf16(const ChannelRmsNormParams p) { vae_channel_rms_norm<true>(p); }

// outer = the product of the dimensions before H (x is [outer, H, W]).
extern "C" __global__ void upsample_nearest2x_u16(ushort2* out, const unsigned short* x, long long outer, int h, int w) {
    vae_upsample_nearest2x<unsigned short, ushort2>(out, x, outer, h, w);
}
extern "C" __global__ void upsample_nearest2x_u32(uint2* out, const unsigned int* x, long long outer, int h, int w) {
    vae_upsample_nearest2x<unsigned int, uint2>(out, x, outer, h, w);
}

// n_out = numel(x) * reps; inner = the product of the dimensions after the repeated one.
extern "C" __global__ void repeat_interleave_u16(unsigned short* out, const unsigned short* x, long long n_out, long long inner, int reps) {
    if (n_out < (1ll << 31) - (long long)gridDim.x * blockDim.x) {
        vae_repeat_interleave<unsigned short, unsigned int>(out, x, (unsigned int)n_out, (unsigned int)inner, (unsigned int)reps);
    } else {
        vae_repeat_interleave<unsigned short, long long>(out, x, n_out, inner, reps);
    }
}
extern "C" __global__ void repeat_interleave_u32(unsigned int* out, const unsigned int* x, long long n_out, long long inner, int reps) {
    if (n_out < (1ll << 31) - (long long)gridDim.x * blockDim.x) {
        vae_repeat_interleave<unsigned int, unsigned int>(out, x, (unsigned int)n_out, (unsigned int)inner, (unsigned int)reps);
    } else {
        vae_repeat_interleave<unsigned int, long long>(out, x, n_out, inner, reps);
    }
}

extern "C" __global__ void clamp_f32(void* out, const void* x, float lo, float hi, long long n) { vae_clamp<false>(out, x, lo, hi, n); }
extern "C" __global__ void clamp_bf16(void* out, const void* x, float lo, float hi, long long n) { vae_clamp<true>(out, x, lo, hi, n); }
