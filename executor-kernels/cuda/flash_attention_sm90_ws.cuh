// flash_attention_sm90_ws.cuh: what the warp-specialised Hopper attention kernels share
// (flash_attention_sm90_ws.cu: the unlisted policies; flash_attention_sm90_ws_list.cu: the listed ones): the
// TMA descriptor as a kernel parameter, mbarrier and TMA wrappers, the m64n128 shared-memory wgmma, the
// warpgroup-wide vote and the PV issue over a Vᵀ block. Java: CudaAttention (TensorMaps encodes the maps).
#pragma once
#include <stdint.h>
#include <cuda_bf16.h>
#include "flash_attention_sm90.cuh"

namespace fa90ws {

struct alignas(64) TensorMap {
    unsigned long long opaque[16];
};

constexpr int THREADS = 384;                     // a producer warpgroup and two consumer warpgroups
constexpr int D = 128;

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)


__device__ __forceinline__ void bar_init(uint32_t b, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(b), "r"(count));
}

__device__ __forceinline__ void bar_expect(uint32_t b, int bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(b), "r"(bytes) : "memory");
}

__device__ __forceinline__ void bar_arrive(uint32_t b) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(b) : "memory");
}

__device__ __forceinline__ void bar_wait(uint32_t b, int parity) {
    uint32_t done = 0;
    while (!done) {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done)
                     : "r"(b), "r"(parity)
                     : "memory");
    }
}

__device__ __forceinline__ void tma_4d(uint32_t dst, const TensorMap& map, int c0, int c1, int c2, int c3, uint32_t bar) {
    asm volatile(
        "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], [%6];\n" ::"r"(dst),
        "l"(reinterpret_cast<uint64_t>(&map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
        : "memory");
}

__device__ __forceinline__ void tma_3d(uint32_t dst, const TensorMap& map, int c0, int c1, int c2, uint32_t bar) {
    asm volatile(
        "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n" ::"r"(dst),
        "l"(reinterpret_cast<uint64_t>(&map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
        : "memory");
}

__device__ __forceinline__ void wgmma_ss_n128(float* d, uint64_t da, uint64_t db, int acc) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(acc));
}

// The ws kernels' mbarriers for Q and the two-stage K/Vᵀ ring, 8 bytes each from shared address b0 (a __shared__
// uint64_t[9]): fullQ, fullK[2], fullV[2], emptyK[2], emptyV[2].
struct Ring {
    uint32_t b0;
    __device__ __forceinline__ uint32_t fullQ() const { return b0; }
    __device__ __forceinline__ uint32_t fullK(int s) const { return b0 + 8 * (1 + s); }
    __device__ __forceinline__ uint32_t fullV(int s) const { return b0 + 8 * (3 + s); }
    __device__ __forceinline__ uint32_t emptyK(int s) const { return b0 + 8 * (5 + s); }
    __device__ __forceinline__ uint32_t emptyV(int s) const { return b0 + 8 * (7 + s); }

    // Thread 0, before the mbarrier-init fence: the full barriers wait for the producer's one arrival (with the TMA
    // bytes), the empty ones for every consumer thread (256), each after its own wgmma wait.
    __device__ __forceinline__ void init() const {
        bar_init(fullQ(), 1);
        for (int s = 0; s < 2; s++) {
            bar_init(fullK(s), 1);
            bar_init(fullV(s), 1);
            bar_init(emptyK(s), 256);
            bar_init(emptyV(s), 256);
        }
    }

    // The producer thread's tail: stay until the consumers have released the last two of n stages' loads, so no load
    // it issued is still in flight when it exits.
    __device__ __forceinline__ void drain(int n) const {
        for (int j = n > 2 ? n - 2 : 0; j < n; j++) {
            bar_wait(emptyK(j & 1), (j >> 1) & 1);
            bar_wait(emptyV(j & 1), (j >> 1) & 1);
        }
    }
};

// All 128 threads of consumer warpgroup `id` (named barrier 1 or 2; 0 is __syncthreads') agree on pred.
__device__ __forceinline__ bool wg_all(bool pred, int id) {
    uint32_t r;
    asm volatile("{\n.reg .pred p, q;\nsetp.ne.u32 p, %1, 0;\nbarrier.cta.red.and.pred q, %2, 128, p;\nselp.u32 %0, 1, 0, q;\n}\n"
                 : "=r"(r)
                 : "r"((uint32_t)pred), "r"(id)
                 : "memory");
    return r != 0;
}

// One row's vote to skip a tile whose row maximum is tm (MODE 1 blasst, 2 dynsparse, 3 recall bound=max), with the
// row's state kept relative to its reference maximum m: l the kept mass, skipped the skipped mass's bound (recall),
// mrun the largest kept score (blasst). thr is the policy's threshold as CudaAttention.modeAndThreshold passes it,
// ethr = e^thr for dynsparse. bound (recall) returns the tile's mass bound cols · e^(tm − m), added to skipped on a skip.
template <int MODE>
__device__ __forceinline__ bool rule_agrees(float tm, float m, float l, float skipped, float mrun, int cols, float scale,
                                            float sl2e, float thr, float ethr, float& bound) {
    if constexpr (MODE == 1) {
        return tm * scale - mrun * scale < thr;
    } else if constexpr (MODE == 2) {
        // tn − lse < λ  as  e^(tn − m) < l·e^λ  (l relative to m): one ex2, no logf
        return l > 0.f && fa90::ex2_ftz((tm - m) * sl2e) < l * ethr;
    } else {
        bound = (float)cols * fa90::ex2_ftz((tm - m) * sl2e);
        return l > 0.f && skipped + bound <= thr * l;
    }
}

// The warpgroup's AND of the rows' votes, read back from lane 0: warpgroup-uniform, and ptxas sees that, so the wgmma
// issued on paths that depend on it are not serialized (C7520 otherwise). Named barrier 1 + consumer.
__device__ __forceinline__ bool wg_skip(bool agree0, bool agree1, bool valid0, bool valid1, int consumer) {
    return __shfl_sync(0xffffffffu, (int)wg_all((agree0 || !valid0) && (agree1 || !valid1), 1 + consumer), 0) != 0;
}

// Scores of keys ≥ L set to −∞ in a fragment of G 8-column groups whose first column is key c0 (t4: lane % 4).
template <int G>
__device__ __forceinline__ void mask_past_end(float* s, int c0, int L, int t4) {
    if (c0 + G * 8 <= L) return;
    #pragma unroll
    for (int g = 0; g < G; g++) {
        const int col = c0 + g * 8 + 2 * t4;
        if (col >= L) { s[g * 4 + 0] = -INFINITY; s[g * 4 + 2] = -INFINITY; }
        if (col + 1 >= L) { s[g * 4 + 1] = -INFINITY; s[g * 4 + 3] = -INFINITY; }
    }
}

// The per-block softmax steps the ws kernels share (flash_attention_sm90_ws.cu and both listed kernels); S and O as
// a consumer's m64n128 fragments (per thread: two rows, 64 floats, 8-column group g at s[4g .. 4g + 3]).

// Each row's maximum over each of NSUB tiles of G 8-column groups (whole rows: the 4 lanes of a row), and
// bm = max(m, every tile's maximum).
template <int NSUB, int G>
__device__ __forceinline__ void tile_maxima(const float* s, const float* m, float (*tm)[2], float* bm) {
    bm[0] = m[0];
    bm[1] = m[1];
    #pragma unroll
    for (int sub = 0; sub < NSUB; sub++) {
        tm[sub][0] = -INFINITY;
        tm[sub][1] = -INFINITY;
        #pragma unroll
        for (int g = sub * G; g < (sub + 1) * G; g++) {
            tm[sub][0] = fmaxf(tm[sub][0], fmaxf(s[g * 4 + 0], s[g * 4 + 1]));
            tm[sub][1] = fmaxf(tm[sub][1], fmaxf(s[g * 4 + 2], s[g * 4 + 3]));
        }
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            tm[sub][r] = fmaxf(tm[sub][r], __shfl_xor_sync(0xffffffffu, tm[sub][r], 1));
            tm[sub][r] = fmaxf(tm[sub][r], __shfl_xor_sync(0xffffffffu, tm[sub][r], 2));
            bm[r] = fmaxf(bm[r], tm[sub][r]);
        }
    }
}

// The rows' reference maximum moves to bm: alpha = e^((m − bm) · scale · log2 e) (0 before the first block), l and,
// for recall (MODE 3), the skipped-mass bound rescaled by it; msc = bm · scale · log2 e for the exps.
template <int MODE>
__device__ __forceinline__ void move_max(float* m, float* l, float* skipped, const float* bm, float sl2e, float* alpha,
                                         float* msc) {
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        alpha[r] = m[r] == -INFINITY ? 0.f : fa90::ex2_ftz((m[r] - bm[r]) * sl2e);
        m[r] = bm[r];
        msc[r] = bm[r] * sl2e;
        l[r] *= alpha[r];
        if (MODE == 3) skipped[r] *= alpha[r];
    }
}

// O's two rows rescaled by alpha, unless every row of the warp kept its maximum.
__device__ __forceinline__ void rescale_o(float* o, const float* alpha) {
    if (!__all_sync(0xffffffffu, alpha[0] == 1.f && alpha[1] == 1.f)) {
        #pragma unroll
        for (int g = 0; g < 16; g++) {
            o[g * 4 + 0] *= alpha[0]; o[g * 4 + 1] *= alpha[0];
            o[g * 4 + 2] *= alpha[1]; o[g * 4 + 3] *= alpha[1];
        }
    }
}

// Groups [g0, g0 + G) of S: the exps against the block maximum (msc) in place, and this thread's part of each row's
// sum into ps.
template <int G>
__device__ __forceinline__ void exp_groups(float* s, int g0, float sl2e, const float* msc, float* ps) {
    ps[0] = 0.f;
    ps[1] = 0.f;
    #pragma unroll
    for (int g = g0; g < g0 + G; g++) {
        s[g * 4 + 0] = fa90::ex2_ftz(fmaf(s[g * 4 + 0], sl2e, -msc[0]));
        s[g * 4 + 1] = fa90::ex2_ftz(fmaf(s[g * 4 + 1], sl2e, -msc[0]));
        s[g * 4 + 2] = fa90::ex2_ftz(fmaf(s[g * 4 + 2], sl2e, -msc[1]));
        s[g * 4 + 3] = fa90::ex2_ftz(fmaf(s[g * 4 + 3], sl2e, -msc[1]));
        ps[0] += s[g * 4 + 0] + s[g * 4 + 1];
        ps[1] += s[g * 4 + 2] + s[g * 4 + 3];
    }
}

// k-steps [kk0, kk0 + KS) of P as bf16 into pa, the PV wgmma's A operand (k-step kk: groups 2kk and 2kk + 1).
template <int KS>
__device__ __forceinline__ void pack_ksteps(const float* s, uint32_t (*pa)[4], int kk0) {
    #pragma unroll
    for (int kk = kk0; kk < kk0 + KS; kk++) {
        pa[kk][0] = fa90::pack2(s[(2 * kk) * 4 + 0], s[(2 * kk) * 4 + 1]);
        pa[kk][1] = fa90::pack2(s[(2 * kk) * 4 + 2], s[(2 * kk) * 4 + 3]);
        pa[kk][2] = fa90::pack2(s[(2 * kk + 1) * 4 + 0], s[(2 * kk + 1) * 4 + 1]);
        pa[kk][3] = fa90::pack2(s[(2 * kk + 1) * 4 + 2], s[(2 * kk + 1) * 4 + 3]);
    }
}

// P = 0 in k-steps [kk0, kk0 + KS) (a skipped or absent tile).
template <int KS>
__device__ __forceinline__ void zero_ksteps(uint32_t (*pa)[4], int kk0) {
    #pragma unroll
    for (int kk = kk0; kk < kk0 + KS; kk++) {
        pa[kk][0] = 0u; pa[kk][1] = 0u; pa[kk][2] = 0u; pa[kk][3] = 0u;
    }
}

// A consumer's two rows per thread of O / l into out [B, L, H, D] (row r0 + lr of head h; bf16 where p.out_bf16), and their log-sum-exp
// m·scale + ln l into p.lse [B·H, L] when asked; rows past L (valid false) are not written.
__device__ __forceinline__ void store_rows(const float* o, const float* l, const float* m, const fa90::Fa90Params& p, int b,
                                           int h, int row0, int row1, bool valid0, bool valid1, int t4) {
    const int L = p.seq_len, H = p.heads;
    const long long row_stride = (long long)H * D;
    const long long base = ((long long)b * L * H + h) * D;
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        if (!(r == 0 ? valid0 : valid1)) continue;
        const int row = r == 0 ? row0 : row1;
        const float inv = 1.f / l[r];
        const long long at = base + (long long)row * row_stride + 2 * t4;
        if (p.out_bf16) {
            __nv_bfloat16* dst = reinterpret_cast<__nv_bfloat16*>(p.out) + at;
            #pragma unroll
            for (int g = 0; g < 16; g++) {
                *reinterpret_cast<uint32_t*>(dst + g * 8) = fa90::pack2(o[g * 4 + 2 * r] * inv, o[g * 4 + 2 * r + 1] * inv);
            }
        } else {
            float* dst = p.out + at;
            #pragma unroll
            for (int g = 0; g < 16; g++) {
                *reinterpret_cast<float2*>(dst + g * 8) = make_float2(o[g * 4 + 2 * r] * inv, o[g * 4 + 2 * r + 1] * inv);
            }
        }
        if (p.lse != nullptr && t4 == 0) p.lse[((long long)b * H + h) * L + row] = m[r] * p.scale + logf(l[r]);
    }
}

// O += P·Vᵀ over k-steps [K0, K1) of the block (16 keys each), issued into the caller's open wgmma group.
template <int K0, int K1>
__device__ __forceinline__ void issue_pv(float* o, uint32_t (*pa)[4], uint32_t vbuf) {
    #pragma unroll
    for (int kk = K0; kk < K1; kk++) {
        // Vᵀ: panel kk/4 (keys 0-63 or 64-127: 128 d-rows × 128 B), 32 B per k-step
        fa90::wgmma_rs_n128(o, pa[kk], fa90::desc128(vbuf + (kk >> 2) * (D * 128) + (kk & 3) * 32));
    }
}

#endif

}  // namespace fa90ws
