// flash_attention_sm90_2wg.cu: the unlisted Hopper attention kernels with two consumer warpgroups per
// CTA sharing every K and Vᵀ block (sm_90a only; elsewhere the bodies trap and the host launches them
// only on compute 9.0). Same computation, params (fa90::Fa90Params, Java CudaAttention.Params90),
// in-loop decisions, keep flags and statistics as flash_attn_sm90_d*_bc* in flash_attention_sm90.cu
// (read its header first: the per-warpgroup loop below is that kernel's loop); the listed kernels stay
// there (each listed q-tile walks its own kv list, so two q-tiles cannot share a K block).
// Java launcher: io.sparserender.engine.gpu.CudaAttention (kernel wg2, opt-in: SPARSE_RENDER_ATTENTION_KERNEL=wg2).
//
// Why: per 64-key block at D = 128 one 64-row q-tile does 4·64·64·128 = 2.1 MFLOP (S and PV) and
// reads K + V = 2·64·128·2 B = 32 KiB from L2: 64 FLOP/byte. The one-warpgroup kernel's L2→SM traffic
// is B·H·ceil(L/64)·L·D·4 bytes: 143 GB at (1, 27280, 24, 128) in 26.99 ms and 1,830 GB at
// (1, 75600, 40, 128) in 350.75 ms (H200, docs/BENCHMARKS.md), 5.3 and 5.2 TB/s, i.e. it runs at the
// L2 bandwidth (H100/H200 ≈ 5.5–7 TB/s, ~40–50 GB/s per SM; at 64 FLOP/B that is 350–450 TFLOP/s).
// Here a CTA holds 128 q rows and reads each block once for both: 128 FLOP/byte, half the traffic,
// ceiling ≈ 680 TFLOP/s at the measured 5.3 TB/s; below that the MMA (4.2 MFLOP per block pair ≈
// 1,100 clocks per SM at 989 TFLOP/s), the softmax exps (8,192 per block pair, ~512 MUFU clocks, partly
// under the next block's S) and the CTA barriers decide. Prediction: 450–600 TFLOP/s dense at bc = 64.
// Measured (H200, 2026-11-27, docs/BENCHMARKS.md): 264–270, 20–28 % SLOWER than the one-warpgroup kernel:
// that kernel was latency-bound, not L2-bound; its two independent CTAs per SM overlap one's softmax with
// the other's MMA, while here both warpgroups meet at CTA barriers every block and do their softmax at
// the same time. What this structure needs next: a producer warp (TMA + mbarriers, no CTA barrier on the
// consumers' path) and ping-pong ordering of the two warpgroups, as in FlashAttention-3.
//
// CTA = 256 threads = two warpgroups; q-tile pair i = rows [128·i, 128·i + 128); warpgroup w owns q-tile
// 2i + w (rows 64w .. 64w + 63 of the pair) with its own Q panel, S, P, O, m, l, skipped mass, keep flags
// and statistics, exactly as one CTA of the one-warpgroup kernel. 1 CTA per SM (up to 255 registers
// per thread, the same 8 warps per SM as 2 one-warpgroup CTAs). Shared memory: two Q tiles, two K
// buffers, two Vᵀ buffers ((128 + 4·64)·D·2 bytes + 1,024 alignment pad). Per 64-key block jb:
//   1. all 256 threads wait for their cp.async groups (K_{jb+1}; dense: also Vᵀ_jb), fence, meet at
//      named barrier 1 (256): what they loaded is visible, both warpgroups finished S_jb and PV_{jb−1}
//      (K buffer jb&1 and Vᵀ buffer (jb+1)&1 are free);
//   2. each warpgroup issues its S_{jb+1} (async) and masks columns ≥ L of S_jb;
//   3. phase A, per warpgroup: policy tiles of the block are decided in order up to its first kept one
//      (a decision before the first kept tile needs no exp: the running state is unchanged by skipped
//      tiles but for recall's skipped mass); a tile's vote is bar.red.and over its own 128 threads
//      (named barrier 3 + w), the rows ≥ L agreeing;
//   4. dense: all 256 threads issue Vᵀ_{jb+1} (prefetch, buffer (jb+1)&1) and K_{jb+2} (buffer jb&1) as
//      one group; no vote, no wait before PV (Vᵀ_jb came with step 1). Sparse modes: the warpgroups'
//      "kept a tile of this block" are OR-ed by bar.red.or (barrier 2, 256); if either kept one, all
//      256 threads issue Vᵀ_jb into buffer jb&1 (one group), then K_{jb+2} (one group, maybe empty);
//   5. phase B, per warpgroup: the exps of the first kept tile, then (bc = 32) the decision of the
//      second half on the updated state and its exps, as the one-warpgroup kernel;
//   6. sparse modes, if Vᵀ_jb was loaded: wait_group 1 (Vᵀ), fence, barrier 1 (256): every thread's
//      Vᵀ copies landed. Then a warpgroup that kept a tile of the block rescales O and runs PV (P from
//      registers, a skipped 32-key half as P = 0); one that kept none skips PV. Both wait their S_{jb+1}.
// The V load of a block is skipped only when both warpgroups skip all of its tiles. The last pair of
// an odd q-tile count has a second warpgroup whose q-tile does not exist (rows ≥ L): it loads its part
// of K/Vᵀ and meets every CTA barrier, computes S on zero rows and drops it, decides nothing, and
// writes no output, LSE, keep flag or statistic. Grid: B·H·ceil(L/128) CTAs (1D).
#include <stdint.h>
#include <cuda_bf16.h>
#include "flash_attention_sm90.cuh"

namespace fa90w2 {

constexpr int CTA_THREADS = 256;
constexpr int WG_THREADS = 128;
// Named barriers (0 is __syncthreads, not used here).
constexpr int BAR_CTA = 1;   // both warpgroups, 256 threads
constexpr int BAR_ANY = 2;   // both warpgroups, OR of "kept a tile of this block"
constexpr int BAR_WG = 3;    // 3 + w: warpgroup w's skip vote, 128 threads

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

__device__ __forceinline__ void bar_sync(int id, int threads) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// AND of v over the `threads` threads meeting at barrier id (all of them get it).
__device__ __forceinline__ bool bar_and(int id, int threads, bool v) {
    uint32_t r;
    asm volatile("{\n.reg .pred pin, pout;\nsetp.ne.u32 pin, %1, 0;\nbar.red.and.pred pout, %2, %3, pin;\nselp.u32 %0, 1, 0, pout;\n}\n"
                 : "=r"(r) : "r"((uint32_t)v), "r"(id), "r"(threads) : "memory");
    return r != 0;
}

__device__ __forceinline__ bool bar_or(int id, int threads, bool v) {
    uint32_t r;
    asm volatile("{\n.reg .pred pin, pout;\nsetp.ne.u32 pin, %1, 0;\nbar.red.or.pred pout, %2, %3, pin;\nselp.u32 %0, 1, 0, pout;\n}\n"
                 : "=r"(r) : "r"((uint32_t)v), "r"(id), "r"(threads) : "memory");
    return r != 0;
}

template <int D, int BC>
__device__ __forceinline__ void attention90_2wg(const fa90::Fa90Params& p) {
    using fa90::desc128;
    using fa90::load_rows64;
    using fa90::load_vt;
    using fa90::pack2;
    constexpr int NSUB = 64 / BC;          // policy kv-tiles per 64-key block
    constexpr int SUBN = BC / 8;           // 8-column accumulator groups per policy tile
    constexpr int PANEL = 64 * 128;        // bytes of one 64 x 64 panel
    constexpr int Q_BYTES = 64 * D * 2, K_BYTES = 64 * D * 2, V_BYTES = D * 64 * 2;
    extern __shared__ char smem_raw90w2[];
    const uint32_t base = ((uint32_t)__cvta_generic_to_shared(smem_raw90w2) + 1023u) & ~1023u;
    const uint32_t sK = base + 2 * Q_BYTES, sVt = sK + 2 * K_BYTES;   // two K buffers, two Vᵀ buffers

    const int L = p.seq_len, H = p.heads;
    const int nq = (L + 63) / 64, nk = (L + BC - 1) / BC, npair = (nq + 1) / 2;
    const int pair = blockIdx.x % npair, bh = blockIdx.x / npair;
    const int tid = threadIdx.x, wg = tid >> 7, wtid = tid & (WG_THREADS - 1);
    const int qt = 2 * pair + wg;
    const bool ghost = qt >= nq;           // the second warpgroup of the last pair of an odd count
    const uint32_t sQ = base + wg * Q_BYTES;
    const int nb = (L + 63) / 64;
    const int b = bh / H, h = bh % H;
    const long long row_stride = (long long)H * D;
    const long long head0 = ((long long)b * L * H + h) * D;
    const __nv_bfloat16* q = p.q + head0;
    const __nv_bfloat16* k = p.k + head0;
    const __nv_bfloat16* vt = p.vt + (long long)bh * D * p.vt_stride;
    const int r0 = qt * 64, rows = ghost ? 0 : min(64, L - r0);
    const int warp = wtid >> 5, lane = tid & 31, t4 = lane & 3;
    const int lr0 = warp * 16 + (lane >> 2), lr1 = lr0 + 8;
    const bool valid0 = r0 + lr0 < L, valid1 = r0 + lr1 < L;   // false for every row of a ghost
    const int mode = p.mode;
    const bool dense = mode == 0;   // every tile kept: Vᵀ is prefetched a block ahead
    const float scale = p.scale, sl2e = scale * 1.4426950408889634f, thr = p.threshold;

    // Q: each warpgroup its own tile (rows ≥ L zero-filled); K_0 by all 256 threads.
    load_rows64<D, WG_THREADS>(sQ, q, row_stride, r0, L, wtid);
    load_rows64<D, CTA_THREADS>(sK, k, row_stride, 0, L, tid);
    asm volatile("cp.async.commit_group;\n" ::);

    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, skipped[2] = {0.f, 0.f};
    float o[D / 2];
    #pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0.f;
    long long cta_skipped = 0;
    double cta_saved = 0;

    // Prologue: S_0 = Q K_0ᵀ, K_1 in flight.
    float s[32];
    asm volatile("cp.async.wait_group 0;\n" ::);
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    bar_sync(BAR_CTA, CTA_THREADS);
    #pragma unroll
    for (int i = 0; i < 32; i++) s[i] = 0.f;
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
    #pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        uint32_t off = (kk >> 2) * PANEL + (kk & 3) * 32;
        fa90::wgmma_ss_n64(s, desc128(sQ + off), desc128(sK + off));
    }
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    if (nb > 1) load_rows64<D, CTA_THREADS>(sK + K_BYTES, k, row_stride, 64, L, tid);
    if (dense) load_vt<D, CTA_THREADS>(sVt, vt, p.vt_stride, 0, tid);
    asm volatile("cp.async.commit_group;\n" ::);
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");

    for (int jb = 0; jb < nb; jb++) {
        // s holds S_jb. Issue S_{jb+1} (on the last block from a stale buffer; dropped).
        asm volatile("cp.async.wait_group 0;\n" ::);
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        bar_sync(BAR_CTA, CTA_THREADS);
        float sn[32];
        #pragma unroll
        for (int i = 0; i < 32; i++) sn[i] = 0.f;
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        {
            const uint32_t bufN = sK + ((jb + 1) & 1) * K_BYTES;
            #pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                uint32_t off = (kk >> 2) * PANEL + (kk & 3) * 32;
                fa90::wgmma_ss_n64(sn, desc128(sQ + off), desc128(bufN + off));
            }
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");

        const int kb0 = jb * 64;
        const uint32_t sV = sVt + (jb & 1) * V_BYTES;   // this block's Vᵀ
        if (kb0 + 64 > L) {
            #pragma unroll
            for (int j = 0; j < 8; j++) {
                int c = kb0 + j * 8 + 2 * t4;
                if (c >= L) { s[j * 4 + 0] = -INFINITY; s[j * 4 + 2] = -INFINITY; }
                if (c + 1 >= L) { s[j * 4 + 1] = -INFINITY; s[j * 4 + 3] = -INFINITY; }
            }
        }
        // Row maxima of every policy tile of the block (the exps below touch only a tile's own columns).
        float tm[NSUB][2];
        #pragma unroll
        for (int sub = 0; sub < NSUB; sub++) {
            tm[sub][0] = -INFINITY;
            tm[sub][1] = -INFINITY;
            #pragma unroll
            for (int j = sub * SUBN; j < (sub + 1) * SUBN; j++) {
                tm[sub][0] = fmaxf(tm[sub][0], fmaxf(s[j * 4 + 0], s[j * 4 + 1]));
                tm[sub][1] = fmaxf(tm[sub][1], fmaxf(s[j * 4 + 2], s[j * 4 + 3]));
            }
            #pragma unroll
            for (int r = 0; r < 2; r++) {
                tm[sub][r] = fmaxf(tm[sub][r], __shfl_xor_sync(0xffffffffu, tm[sub][r], 1));
                tm[sub][r] = fmaxf(tm[sub][r], __shfl_xor_sync(0xffffffffu, tm[sub][r], 2));
            }
        }
        // The decision of policy tile jt (sub of this block) on the current state; writes its keep flag
        // and, when skipped, its bookkeeping. Warpgroup-uniform; never called by a ghost.
        auto decide = [&](int sub, int jt) -> bool {
            const int cols = min(BC, L - jt * BC);
            bool skip = false;
            float bound[2] = {0.f, 0.f};
            if (mode != 0) {
                bool agree[2];
                #pragma unroll
                for (int r = 0; r < 2; r++) {
                    float tn = tm[sub][r] * scale, mn = m[r] * scale;
                    if (mode == 1) {
                        agree[r] = tn - mn < thr;
                    } else if (mode == 2) {
                        agree[r] = l[r] > 0.f && tn - (mn + logf(l[r])) < thr;
                    } else {
                        bound[r] = (float)cols * expf(tn - mn);
                        agree[r] = l[r] > 0.f && skipped[r] + bound[r] <= thr * l[r];
                    }
                }
                skip = bar_and(BAR_WG + wg, WG_THREADS, (agree[0] || !valid0) && (agree[1] || !valid1));
            }
            if (p.keep != nullptr && wtid == 0) p.keep[((long long)bh * nq + qt) * nk + jt] = skip ? 0u : 1u;
            if (skip) {
                if (mode == 3) { skipped[0] += bound[0]; skipped[1] += bound[1]; }
                cta_skipped++;
                cta_saved += 2.0 * rows * cols * D;
            }
            return skip;
        };

        // Phase A: decide up to this warpgroup's first kept tile of the block (no exps needed).
        int first = NSUB;
        #pragma unroll
        for (int sub = 0; sub < NSUB; sub++) {
            const int jt = jb * NSUB + sub;
            if (first != NSUB || ghost || jt >= nk) continue;   // warpgroup-uniform
            if (!decide(sub, jt)) first = sub;
        }
        const bool mine = first != NSUB;
        // Dense keeps every tile (and warpgroup 0 always exists): no vote; Vᵀ_jb was loaded during the
        // block before and waited for at step 1, Vᵀ_{jb+1} goes into the other buffer now (both
        // warpgroups finished PV_{jb-1}, which read it, before step 1's barrier).
        const bool any = dense || bar_or(BAR_ANY, CTA_THREADS, mine);
        if (dense) {
            if (jb + 1 < nb) load_vt<D, CTA_THREADS>(sVt + ((jb + 1) & 1) * V_BYTES, vt, p.vt_stride, kb0 + 64, tid);
        } else if (any) {
            load_vt<D, CTA_THREADS>(sV, vt, p.vt_stride, kb0, tid);
            asm volatile("cp.async.commit_group;\n" ::);
        }
        // K_{jb+2} into this block's K buffer: both warpgroups finished S_jb before step 1's barrier.
        if (jb + 2 < nb) load_rows64<D, CTA_THREADS>(sK + (jb & 1) * K_BYTES, k, row_stride, kb0 + 128, L, tid);
        asm volatile("cp.async.commit_group;\n" ::);

        // Phase B: the exps of the kept tiles; a tile after the first kept one is decided here.
        bool kept[NSUB];
        float atot[2] = {1.f, 1.f};
        #pragma unroll
        for (int sub = 0; sub < NSUB; sub++) {
            kept[sub] = false;
            const int jt = jb * NSUB + sub;
            if (sub < first || jt >= nk) continue;   // first == NSUB: none kept
            if (sub > first && decide(sub, jt)) continue;
            kept[sub] = true;
            float alpha[2], msc[2];
            #pragma unroll
            for (int r = 0; r < 2; r++) {
                float mnew = fmaxf(m[r], tm[sub][r]);
                alpha[r] = m[r] == -INFINITY ? 0.f : exp2f((m[r] - mnew) * sl2e);
                m[r] = mnew;
                msc[r] = mnew * sl2e;
            }
            float rs[2] = {0.f, 0.f};
            #pragma unroll
            for (int j = sub * SUBN; j < (sub + 1) * SUBN; j++) {
                s[j * 4 + 0] = exp2f(fmaf(s[j * 4 + 0], sl2e, -msc[0]));
                s[j * 4 + 1] = exp2f(fmaf(s[j * 4 + 1], sl2e, -msc[0]));
                s[j * 4 + 2] = exp2f(fmaf(s[j * 4 + 2], sl2e, -msc[1]));
                s[j * 4 + 3] = exp2f(fmaf(s[j * 4 + 3], sl2e, -msc[1]));
                rs[0] += s[j * 4 + 0] + s[j * 4 + 1];
                rs[1] += s[j * 4 + 2] + s[j * 4 + 3];
            }
            #pragma unroll
            for (int r = 0; r < 2; r++) {
                rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 1);
                rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 2);
                l[r] = alpha[r] * l[r] + rs[r];
                skipped[r] *= alpha[r];
                atot[r] *= alpha[r];
            }
            // P of an earlier kept tile of this block was taken against the old max.
            #pragma unroll
            for (int prev = 0; prev < sub; prev++) {
                if (!kept[prev]) continue;
                #pragma unroll
                for (int j = prev * SUBN; j < (prev + 1) * SUBN; j++) {
                    s[j * 4 + 0] *= alpha[0]; s[j * 4 + 1] *= alpha[0];
                    s[j * 4 + 2] *= alpha[1]; s[j * 4 + 3] *= alpha[1];
                }
            }
        }
        if (!dense && any) {
            // Every thread's Vᵀ copies have landed (K_{jb+2} may still be in flight).
            asm volatile("cp.async.wait_group 1;\n" ::);
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            bar_sync(BAR_CTA, CTA_THREADS);
        }
        if (!mine) {
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
            #pragma unroll
            for (int i = 0; i < 32; i++) s[i] = sn[i];
            continue;
        }
        #pragma unroll
        for (int j = 0; j < D / 8; j++) {
            o[j * 4 + 0] *= atot[0]; o[j * 4 + 1] *= atot[0];
            o[j * 4 + 2] *= atot[1]; o[j * 4 + 3] *= atot[1];
        }
        // A skipped 32-key half of a kept block gets P = 0 (see flash_attention_sm90.cu: no divergent wgmma).
        #pragma unroll
        for (int sub = 0; sub < NSUB; sub++) {
            if (kept[sub]) continue;
            #pragma unroll
            for (int j = sub * SUBN; j < (sub + 1) * SUBN; j++) {
                s[j * 4 + 0] = 0.f; s[j * 4 + 1] = 0.f; s[j * 4 + 2] = 0.f; s[j * 4 + 3] = 0.f;
            }
        }
        uint32_t pa[4][4];
        #pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            pa[kk][0] = pack2(s[(2 * kk) * 4 + 0], s[(2 * kk) * 4 + 1]);
            pa[kk][1] = pack2(s[(2 * kk) * 4 + 2], s[(2 * kk) * 4 + 3]);
            pa[kk][2] = pack2(s[(2 * kk + 1) * 4 + 0], s[(2 * kk + 1) * 4 + 1]);
            pa[kk][3] = pack2(s[(2 * kk + 1) * 4 + 2], s[(2 * kk + 1) * 4 + 3]);
        }
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        #pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            if constexpr (D == 128) {
                fa90::wgmma_rs_n128(o, pa[kk], desc128(sV + kk * 32));
            } else {
                fa90::wgmma_rs_n64(o, pa[kk], desc128(sV + kk * 32));
            }
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        #pragma unroll
        for (int i = 0; i < 32; i++) s[i] = sn[i];
    }
    asm volatile("cp.async.wait_group 0;\n" ::);

    if (ghost) return;
    float* out = p.out + head0;
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        if (!(r == 0 ? valid0 : valid1)) continue;
        int row = r0 + (r == 0 ? lr0 : lr1);
        float inv = 1.f / l[r];
        float* dst = out + (long long)row * row_stride;
        #pragma unroll
        for (int j = 0; j < D / 8; j++) {
            *reinterpret_cast<float2*>(dst + j * 8 + 2 * t4) = make_float2(o[j * 4 + 2 * r] * inv, o[j * 4 + 2 * r + 1] * inv);
        }
        if (p.lse != nullptr && t4 == 0) p.lse[(long long)bh * L + row] = m[r] * scale + logf(l[r]);
    }
    if (wtid == 0) {
        atomicAdd(&p.stats[0], (unsigned long long)nk);
        atomicAdd(&p.stats[1], (unsigned long long)cta_skipped);
        atomicAdd(&p.stats[2], (unsigned long long)cta_saved);
    }
}

#endif

}  // namespace fa90w2

// Grid: B*H*ceil(L/128) blocks (1D), 256 threads, (128 + 4*64)*D*2 + 1024 bytes of dynamic shared memory.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FA90W2_BODY(D, BC) fa90w2::attention90_2wg<D, BC>(p);
#else
#define FA90W2_BODY(D, BC) __trap();
#endif
#define FA90W2_KERNEL(D, BC)                                                                                   \
    extern "C" __global__ void __launch_bounds__(fa90w2::CTA_THREADS, 1) flash_attn_sm90_2wg_d##D##_bc##BC(fa90::Fa90Params p) { \
        FA90W2_BODY(D, BC)                                                                                     \
    }
FA90W2_KERNEL(64, 64)
FA90W2_KERNEL(128, 64)
FA90W2_KERNEL(64, 32)
FA90W2_KERNEL(128, 32)
#undef FA90W2_KERNEL
#undef FA90W2_BODY
