// dense_attention.cu: dense softmax attention with separate query and key lengths, an optional
// additive bias and an optional key mask: the cross-attention of the DiT (queries = video tokens,
// keys = the prompt's rows) and the umT5 encoder's attention (relative-position bias, padding mask).
// The policy kernels (flash_attention*.cu) run the DiT's self-attention.
// Java twin: io.sparserender.engine.ops.CpuOps#attention. Java launcher: io.sparserender.engine.gpu.CudaOps.
// Test: CudaOpsGpuTest (attention cases).
//
// q: bf16 [B, Lq, H, D]; k, v: bf16 [B, Lk, H, D]; out: [B, Lq, H, D] fp32 or bf16.
// score(r, c) = (q_r · k_c)·scale + bias[(b,) h, r, c]; keys with key_mask[b, c] == 0 are excluded; a row
// with every key excluded gets zeros. One CTA = 64 query rows of one (b, h), 4 warps x 16 rows,
// mma.sync m16n8k16 bf16 with fp32 accumulation, 64-key tiles double-buffered with cp.async,
// online softmax in the natural-log domain (m, l per row).
#include "mma_sync.cuh"

namespace da {

constexpr int BR = 64;
constexpr int BC = 64;
constexpr int THREADS = 128;

struct DaParams {
    const __nv_bfloat16* q;
    const __nv_bfloat16* k;
    const __nv_bfloat16* v;
    void* out;
    const float* bias;            // [H, Lq, Lk] or [B, H, Lq, Lk], or null
    const float* key_mask;        // [B, Lk] or null
    long long bias_batch_stride;  // 0 for [H, Lq, Lk]; H·Lq·Lk for [B, H, Lq, Lk]
    int batch;
    int lq;
    int lk;
    int heads;
    float scale;
    int out_bf16;
};

template <int D, int ROWS>
__device__ __forceinline__ void load_tile(__nv_bfloat16* dst, const __nv_bfloat16* base, int r0, int len,
                                          long long row_stride) {
    constexpr int CHUNKS = D / 8;
    for (int i = threadIdx.x; i < ROWS * CHUNKS; i += THREADS) {
        int row = i / CHUNKS, ch = i % CHUNKS;
        int g = r0 + row;
        bool ok = g < len;
        const __nv_bfloat16* src = base + (long long)(ok ? g : 0) * row_stride + ch * 8;
        mmah::cp_async16(dst + mmah::swz<D>(row, ch * 8), src, ok ? 16 : 0);
    }
}

template <int D>
__device__ __forceinline__ void attention_cta(const DaParams& p) {
    using namespace mmah;
    constexpr int KSTEPS = D / 16;
    constexpr int SN = BC / 8;
    constexpr int ON = D / 8;
    constexpr int PK = BC / 16;
    extern __shared__ __align__(128) unsigned char smem_raw[];
    __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem_raw);
    __nv_bfloat16* sK = sQ + BR * D;       // two buffers of BC x D
    __nv_bfloat16* sV = sK + 2 * BC * D;   // one buffer of BC x D

    const int Lq = p.lq, Lk = p.lk, H = p.heads;
    const int nq = (Lq + BR - 1) / BR, nk = (Lk + BC - 1) / BC;
    const int qt = blockIdx.x % nq;
    const int bh = blockIdx.x / nq;
    const int b = bh / H, h = bh % H;
    const long long row_stride = (long long)H * D;
    const __nv_bfloat16* q = p.q + ((long long)b * Lq * H + h) * D;
    const __nv_bfloat16* k = p.k + ((long long)b * Lk * H + h) * D;
    const __nv_bfloat16* v = p.v + ((long long)b * Lk * H + h) * D;
    const float* bias = p.bias == nullptr ? nullptr : p.bias + b * p.bias_batch_stride + (long long)h * Lq * Lk;
    const float* mask = p.key_mask == nullptr ? nullptr : p.key_mask + (long long)b * Lk;
    const int r0 = qt * BR;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t4 = lane & 3;
    const float L2E = 1.4426950408889634f;

    load_tile<D, BR>(sQ, q, r0, Lq, row_stride);
    load_tile<D, BC>(sK, k, 0, Lk, row_stride);
    cp_async_commit();

    const int lr0 = warp * 16 + g, lr1 = lr0 + 8;
    const int row0 = r0 + lr0, row1 = r0 + lr1;

    float m[2] = {-INFINITY, -INFINITY};
    float l[2] = {0.f, 0.f};
    float o[ON][4];
#pragma unroll
    for (int i = 0; i < ON; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    uint32_t qa[KSTEPS][4];

    for (int j = 0; j < nk; j++) {
        const __nv_bfloat16* bufK = sK + (j & 1) * BC * D;
        cp_async_wait<0>();
        __syncthreads();
        if (j == 0) {
#pragma unroll
            for (int ks = 0; ks < KSTEPS; ks++) {
                const __nv_bfloat16* a = sQ + swz<D>(warp * 16 + (lane & 15), ks * 16 + (lane >> 4) * 8);
                ldsm_x4(qa[ks][0], qa[ks][1], qa[ks][2], qa[ks][3], a);
            }
        }
        const int c0 = j * BC;
        // V_j and K_{j+1} stream in while S is computed.
        load_tile<D, BC>(sV, v, c0, Lk, row_stride);
        cp_async_commit();
        if (j + 1 < nk) load_tile<D, BC>(sK + ((j + 1) & 1) * BC * D, k, c0 + BC, Lk, row_stride);
        cp_async_commit();

        float s[SN][4];
#pragma unroll
        for (int i = 0; i < SN; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
        for (int ks = 0; ks < KSTEPS; ks++) {
#pragma unroll
            for (int nt = 0; nt < SN; nt += 2) {
                uint32_t b0, b1, b2, b3;
                const __nv_bfloat16* a = bufK + swz<D>(nt * 8 + (lane & 7) + (lane >> 4) * 8, ks * 16 + ((lane >> 3) & 1) * 8);
                ldsm_x4(b0, b1, b2, b3, a);
                mma16816(s[nt], qa[ks], b0, b1);
                mma16816(s[nt + 1], qa[ks], b2, b3);
            }
        }
        // Scores in natural units, with bias and masks.
        float tmax[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < SN; nt++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int c = c0 + nt * 8 + 2 * t4 + (e & 1);
                int row = e < 2 ? row0 : row1;
                float x = s[nt][e] * p.scale;
                if (c >= Lk || (mask != nullptr && mask[c] == 0.f)) {
                    x = -INFINITY;
                } else if (bias != nullptr && row < Lq) {
                    x += bias[(long long)row * Lk + c];
                }
                s[nt][e] = x;
                tmax[e >> 1] = fmaxf(tmax[e >> 1], x);
            }
        }
        float alpha[2], msc[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 1));
            tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 2));
            float mnew = fmaxf(m[r], tmax[r]);
            alpha[r] = m[r] == -INFINITY ? 0.f : exp2f((m[r] - mnew) * L2E);
            m[r] = mnew;
            msc[r] = mnew == -INFINITY ? 0.f : mnew * L2E;
        }
        float rs[2] = {0.f, 0.f};
#pragma unroll
        for (int nt = 0; nt < SN; nt++) {
            s[nt][0] = exp2f(fmaf(s[nt][0], L2E, -msc[0]));
            s[nt][1] = exp2f(fmaf(s[nt][1], L2E, -msc[0]));
            s[nt][2] = exp2f(fmaf(s[nt][2], L2E, -msc[1]));
            s[nt][3] = exp2f(fmaf(s[nt][3], L2E, -msc[1]));
            rs[0] += s[nt][0] + s[nt][1];
            rs[1] += s[nt][2] + s[nt][3];
        }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 1);
            rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 2);
            l[r] = alpha[r] * l[r] + rs[r];
        }
#pragma unroll
        for (int i = 0; i < ON; i++) {
            o[i][0] *= alpha[0]; o[i][1] *= alpha[0];
            o[i][2] *= alpha[1]; o[i][3] *= alpha[1];
        }
        cp_async_wait<1>();   // V_j landed (K_{j+1} may still be in flight)
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < PK; kk++) {
            uint32_t pa[4];
            pa[0] = pack_bf16(s[2 * kk][0], s[2 * kk][1]);
            pa[1] = pack_bf16(s[2 * kk][2], s[2 * kk][3]);
            pa[2] = pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[3] = pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
            for (int nt = 0; nt < ON; nt += 2) {
                uint32_t b0, b1, b2, b3;
                const __nv_bfloat16* a = sV + swz<D>(kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, nt * 8 + (lane >> 4) * 8);
                ldsm_x4_t(b0, b1, b2, b3, a);
                mma16816(o[nt], pa, b0, b1);
                mma16816(o[nt + 1], pa, b2, b3);
            }
        }
        // V's buffer is refilled at the top of the next iteration: every warp must be done reading it.
        __syncthreads();
    }
    cp_async_wait<0>();

    const long long out_head = ((long long)b * Lq * H + h) * D;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int row = r == 0 ? row0 : row1;
        if (row >= Lq) continue;
        float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;
        long long base = out_head + (long long)row * row_stride;
#pragma unroll
        for (int nt = 0; nt < ON; nt++) {
            float v0 = o[nt][2 * r] * inv, v1 = o[nt][2 * r + 1] * inv;
            long long idx = base + nt * 8 + 2 * t4;
            if (p.out_bf16) {
                *reinterpret_cast<uint32_t*>(reinterpret_cast<__nv_bfloat16*>(p.out) + idx) = pack_bf16(v0, v1);
            } else {
                *reinterpret_cast<float2*>(reinterpret_cast<float*>(p.out) + idx) = make_float2(v0, v1);
            }
        }
    }
}

}  // namespace da

extern "C" __global__ void __launch_bounds__(da::THREADS, 2) dense_attention_d64(da::DaParams p) { da::attention_cta<64>(p); }
extern "C" __global__ void __launch_bounds__(da::THREADS, 2) dense_attention_d128(da::DaParams p) { da::attention_cta<128>(p); }
