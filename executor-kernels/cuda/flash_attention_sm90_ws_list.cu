// flash_attention_sm90_ws_list.cu: the warp-specialised Hopper kernel for the listed policies (topk, topp, hybrid,
// and dense/blasst/dynsparse/recall bound=max in orders local and estimate) at D = 128, bc = 64: each 64-row q-tile
// walks its own list of 64-key kv-tiles (attention_plan.cu) in list order, so a tile off the list costs no load, no
// QKᵀ, no exp and no PV. The ws kernel's structure (flash_attention_sm90_ws.cu) with one change: the two consumer
// warpgroups of a CTA (q-tiles 2i and 2i + 1) have different lists, so they do not share K/V blocks; each has its own
// two-stage ring of 64-key K and Vᵀ tiles, fed by its own producer thread (lane 0 of producer warp 0 or 1).
//
//   producer thread c: Q rows of q-tile 2i + c once; then for every list entry: wait until the stage is free, TMA
//     the two 64 × 64 K panels and the 128 × 64 Vᵀ box of that kv-tile (zeros outside the tensor).
//   consumer c, per entry: O += P_{e−1}·V_{e−1} and S = Q·K_eᵀ as one wgmma group (m64n64k16 for S, m64n128k16
//     for PV, P from registers), one wait; keys ≥ L masked; the tile's row maxima; for the rule entry points the
//     policy's decision (MODE 1 blasst, 2 dynsparse, 3 recall bound=max, a template parameter, as the unlisted ws
//     kernel decides them: a warpgroup vote on named barrier 1 + c); exps against the new maximum; P to bf16.
// Keep flags: 2 for every kv-tile of the q-tile first (not on the list), then 1/0 per visited tile. Counters as
// wg1's listed kernels: tiles, skipped in the loop, FLOPs saved (2·rows·cols·D per in-loop skip, 4·rows·cols·D per
// tile off the list), tiles off the list.
// Shared memory: Q 32 KiB + 2 consumers × STAGES × (K 16 KiB + Vᵀ 16 KiB) = 160 KiB at 2 stages + 1 KiB alignment.
// Java launcher: CudaAttention.launchPlanned (Q and K maps with boxes {64, 1, 64, 1}, Vᵀ {64, 128, 1}).
#include <stdint.h>
#include <cuda_bf16.h>
#include "flash_attention_sm90.cuh"
#include "flash_attention_sm90_ws.cuh"

namespace fa90wsl {

using fa90ws::D;
using fa90ws::TensorMap;
constexpr int BC = 64;                           // keys per listed tile
constexpr int TILE_BYTES = BC * D * 2;           // 16 KiB: K (two 64 × 64 panels) or Vᵀ (128 d-rows × 64 keys)
constexpr int QH_BYTES = 64 * D * 2;             // 16 KiB: one consumer's 64 q rows
// Q, then per consumer STAGES stages of K and Vᵀ, + 1 KiB to align the base: 161 KiB at 2 stages, 225 KiB at 3.
constexpr int smem_bytes(int stages) { return 2 * QH_BYTES + 2 * stages * 2 * TILE_BYTES + 1024; }
static_assert(smem_bytes(3) <= 227 * 1024, "one CTA per SM");

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

template <int MODE, int STAGES>
__device__ void attention_ws_list(const TensorMap& mq, const TensorMap& mk, const TensorMap& mv, const fa90::Fa90ListParams& lp) {
    static_assert(MODE >= 0 && MODE <= 3, "dense, blasst, dynsparse, recall bound=max");
    constexpr bool RULE = MODE != 0;
    const fa90::Fa90Params& p = lp.base;
    extern __shared__ char smem_wsl[];
    // Per consumer c: fullQ, and per stage s: fullK, fullV, emptyK, emptyV.
    __shared__ uint64_t bars[2 * (1 + 4 * STAGES)];
    const uint32_t base = ((uint32_t)__cvta_generic_to_shared(smem_wsl) + 1023u) & ~1023u;
    const uint32_t b0 = (uint32_t)__cvta_generic_to_shared(&bars[0]);
    auto qbuf = [&](int c) { return base + c * QH_BYTES; };
    auto kbuf = [&](int c, int s) { return base + 2 * QH_BYTES + (c * STAGES + s) * 2 * TILE_BYTES; };
    auto vbuf = [&](int c, int s) { return kbuf(c, s) + TILE_BYTES; };
    auto bar = [&](int c, int i) { return b0 + 8 * (c * (1 + 4 * STAGES) + i); };
    auto fullQ = [&](int c) { return bar(c, 0); };
    auto fullK = [&](int c, int s) { return bar(c, 1 + s); };
    auto fullV = [&](int c, int s) { return bar(c, 1 + STAGES + s); };
    auto emptyK = [&](int c, int s) { return bar(c, 1 + 2 * STAGES + s); };
    auto emptyV = [&](int c, int s) { return bar(c, 1 + 3 * STAGES + s); };

    const int L = p.seq_len, H = p.heads;
    const int nq = (L + 127) / 128, nq64 = (L + 63) / 64, nk = (L + BC - 1) / BC;
    const int qt = blockIdx.x % nq, bh = blockIdx.x / nq;
    const int b = bh / H, h = bh % H;
    // The warpgroup index read from lane 0 (CUTLASS's canonical_warp_group_idx): ptxas then knows it is warp-uniform and
    // keeps the shared-memory addresses and wgmma descriptors derived from it in uniform registers.
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x / 128), 0), tid = threadIdx.x % 128;

    if (threadIdx.x == 0) {
        for (int c = 0; c < 2; c++) {
            fa90ws::bar_init(fullQ(c), 1);
            for (int s = 0; s < STAGES; s++) {
                fa90ws::bar_init(fullK(c, s), 1);
                fa90ws::bar_init(fullV(c, s), 1);
                fa90ws::bar_init(emptyK(c, s), 128);   // every thread of consumer c, after its own wgmma wait
                fa90ws::bar_init(emptyV(c, s), 128);
            }
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    // The q-tile this consumer (or producer thread) serves, its list and its length; q-tile 2i + 1 may be absent.
    const int c = wg == 0 ? __shfl_sync(0xffffffffu, (int)(tid >> 5), 0) : wg - 1;
    const int qt64 = qt * 2 + c;
    const bool present = qt64 < nq64;
    int nvis = nk;
    const int* lst = nullptr;
    if (present) {
        if (lp.count != nullptr) nvis = lp.count[(long long)bh * nq64 + qt64];
        if (lp.list != nullptr) lst = lp.list + (long long)bh * lp.list_bh_stride + (long long)qt64 * nk;
    }
    auto entry = [&](int e) { return lst != nullptr ? __ldg(lst + e) : e; };   // kv-tile index of list entry e

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        if ((tid & 31) == 0 && c < 2 && present) {
            fa90ws::bar_expect(fullQ(c), QH_BYTES);
            for (int panel = 0; panel < 2; panel++) {
                fa90ws::tma_4d(qbuf(c) + panel * 8192, mq, panel * 64, h, qt64 * 64, b, fullQ(c));
            }
            for (int e = 0; e < nvis; e++) {
                const int s = e % STAGES, key0 = entry(e) * BC;
                if (e >= STAGES) fa90ws::bar_wait(emptyK(c, s), ((e / STAGES) + 1) & 1);
                fa90ws::bar_expect(fullK(c, s), TILE_BYTES);
                for (int panel = 0; panel < 2; panel++) {
                    fa90ws::tma_4d(kbuf(c, s) + panel * 8192, mk, panel * 64, h, key0, b, fullK(c, s));
                }
                if (e >= STAGES) fa90ws::bar_wait(emptyV(c, s), ((e / STAGES) + 1) & 1);
                fa90ws::bar_expect(fullV(c, s), TILE_BYTES);
                fa90ws::tma_3d(vbuf(c, s), mv, key0, 0, bh, fullV(c, s));
            }
            // Tail: stay until consumer c has released the last stages, so no load is in flight at exit.
            for (int e = nvis > STAGES ? nvis - STAGES : 0; e < nvis; e++) {
                fa90ws::bar_wait(emptyK(c, e % STAGES), (e / STAGES) & 1);
                fa90ws::bar_wait(emptyV(c, e % STAGES), (e / STAGES) & 1);
            }
        }
        return;
    }
    if (!present) return;   // the whole warpgroup: q-tile 2i + 1 past the end
    // The list length is warpgroup-uniform; read from lane 0 so ptxas sees the loop bound, and so the wgmma under
    // it, as uniform (C7520: serialized wgmma otherwise).
    nvis = __shfl_sync(0xffffffffu, nvis, 0);

    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int r0 = qt64 * 64, rows = min(64, L - r0);
    const int warp = tid >> 5, lane = tid & 31, t4 = lane & 3;
    const int lr0 = warp * 16 + (lane >> 2), lr1 = lr0 + 8;
    const bool valid0 = r0 + lr0 < L, valid1 = r0 + lr1 < L;
    const float scale = p.scale, sl2e = scale * 1.4426950408889634f, thr = p.threshold;
    const float ethr = MODE == 2 ? expf(thr) : 0.f;   // dynsparse: e^λ
    unsigned int* keep = p.keep == nullptr ? nullptr : p.keep + ((long long)bh * nq64 + qt64) * nk;
    if (keep != nullptr) {
        for (int j = tid; j < nk; j += 128) keep[j] = 2u;
        asm volatile("bar.sync %0, 128;\n" ::"r"(1 + c) : "memory");   // before thread 0 marks the visited tiles
    }

    // m: the largest score seen (kept or not), l and skipped relative to it; mrun: the largest kept (blasst).
    // Dense (RULE = false): l is this thread's part of its rows' sums, reduced over the quad at the end.
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, skipped[2] = {0.f, 0.f}, mrun[2] = {-INFINITY, -INFINITY};
    float o[64];
    #pragma unroll
    for (int i = 0; i < 64; i++) o[i] = 0.f;
    float s[32];
    uint32_t pa[4][4];
    long long wg_skipped = 0, wg_skipped_cols = 0, visited_cols = 0;

    int jt_next = nvis > 0 ? entry(0) : 0;
    fa90ws::bar_wait(fullQ(c), 0);
    const uint32_t myQ = qbuf(c);
    bool pv_owed = false;   // PV of entry e − 1
    for (int e = 0; e <= nvis; e++) {
        const bool qk = e < nvis;
        const int st = e % STAGES, par = (e / STAGES) & 1, pst = (e + STAGES - 1) % STAGES, ppar = ((e - 1) / STAGES) & 1;
        if (qk) fa90ws::bar_wait(fullK(c, st), par);
        if (e > 0) fa90ws::bar_wait(fullV(c, pst), ppar);
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        if (pv_owed) fa90ws::issue_pv<0, 4>(o, pa, vbuf(c, pst));
        if (qk) {
            #pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                // Q and K: panel kk/4 (64 rows × 128 B), 32 B per k-step
                const uint32_t off = (kk >> 2) * 8192 + (kk & 3) * 32;
                fa90::wgmma_ss_n64(s, fa90::desc128(myQ + off), fa90::desc128(kbuf(c, st) + off), kk == 0 ? 0 : 1);
            }
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        fa90::fence_regs<64>(o);
        fa90::fence_regs<32>(s);
        if (qk) fa90ws::bar_arrive(emptyK(c, st));
        if (e > 0) fa90ws::bar_arrive(emptyV(c, pst));
        pv_owed = false;
        if (!qk) break;

        const int jt = jt_next, kb0 = jt * BC, cols = min(BC, L - kb0);
        if (e + 1 < nvis) jt_next = entry(e + 1);   // the next entry's load runs under this tile's softmax
        visited_cols += cols;
        fa90ws::mask_past_end<8>(s, kb0, L, t4);
        float tm[2] = {-INFINITY, -INFINITY};
        #pragma unroll
        for (int g = 0; g < 8; g++) {
            tm[0] = fmaxf(tm[0], fmaxf(s[g * 4 + 0], s[g * 4 + 1]));
            tm[1] = fmaxf(tm[1], fmaxf(s[g * 4 + 2], s[g * 4 + 3]));
        }
        float alpha[2], msc[2];
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            tm[r] = fmaxf(tm[r], __shfl_xor_sync(0xffffffffu, tm[r], 1));
            tm[r] = fmaxf(tm[r], __shfl_xor_sync(0xffffffffu, tm[r], 2));
            const float mn = fmaxf(m[r], tm[r]);
            alpha[r] = m[r] == -INFINITY ? 0.f : fa90::ex2_ftz((m[r] - mn) * sl2e);
            m[r] = mn;
            msc[r] = mn * sl2e;
            l[r] *= alpha[r];
            if (RULE) skipped[r] *= alpha[r];
        }
        bool skip = false;
        if constexpr (RULE) {
            bool agree[2];
            float bound[2] = {0.f, 0.f};
            #pragma unroll
            for (int r = 0; r < 2; r++) {
                agree[r] = fa90ws::rule_agrees<MODE>(tm[r], m[r], l[r], skipped[r], mrun[r], cols, scale, sl2e, thr, ethr, bound[r]);
            }
            skip = fa90ws::wg_skip(agree[0], agree[1], valid0, valid1, c);
            if (skip) {
                if constexpr (MODE == 3) { skipped[0] += bound[0]; skipped[1] += bound[1]; }
                wg_skipped++;
                wg_skipped_cols += cols;
            } else {
                mrun[0] = fmaxf(mrun[0], tm[0]);
                mrun[1] = fmaxf(mrun[1], tm[1]);
            }
        }
        if (keep != nullptr && tid == 0) keep[jt] = skip ? 0u : 1u;
        // O follows m even when the tile is skipped (a skipped tile may hold the row's new maximum).
        if (!__all_sync(0xffffffffu, alpha[0] == 1.f && alpha[1] == 1.f)) {
            #pragma unroll
            for (int g = 0; g < 16; g++) {
                o[g * 4 + 0] *= alpha[0]; o[g * 4 + 1] *= alpha[0];
                o[g * 4 + 2] *= alpha[1]; o[g * 4 + 3] *= alpha[1];
            }
        }
        if (skip) continue;
        float rs[2] = {0.f, 0.f};
        #pragma unroll
        for (int g = 0; g < 8; g++) {
            s[g * 4 + 0] = fa90::ex2_ftz(fmaf(s[g * 4 + 0], sl2e, -msc[0]));
            s[g * 4 + 1] = fa90::ex2_ftz(fmaf(s[g * 4 + 1], sl2e, -msc[0]));
            s[g * 4 + 2] = fa90::ex2_ftz(fmaf(s[g * 4 + 2], sl2e, -msc[1]));
            s[g * 4 + 3] = fa90::ex2_ftz(fmaf(s[g * 4 + 3], sl2e, -msc[1]));
            rs[0] += s[g * 4 + 0] + s[g * 4 + 1];
            rs[1] += s[g * 4 + 2] + s[g * 4 + 3];
        }
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            if (RULE) {   // the rules read whole-row sums
                rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 1);
                rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 2);
            }
            l[r] += rs[r];
        }
        #pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            pa[kk][0] = fa90::pack2(s[(2 * kk) * 4 + 0], s[(2 * kk) * 4 + 1]);
            pa[kk][1] = fa90::pack2(s[(2 * kk) * 4 + 2], s[(2 * kk) * 4 + 3]);
            pa[kk][2] = fa90::pack2(s[(2 * kk + 1) * 4 + 0], s[(2 * kk + 1) * 4 + 1]);
            pa[kk][3] = fa90::pack2(s[(2 * kk + 1) * 4 + 2], s[(2 * kk + 1) * 4 + 3]);
        }
        pv_owed = true;
    }
    if (!RULE) {
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
            l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        }
    }

    fa90ws::store_rows(o, l, m, p, b, h, r0 + lr0, r0 + lr1, valid0, valid1, t4);
    if (tid == 0) {
        // FLOPs saved: PV of the tiles skipped in the loop, QKᵀ and PV of the tiles off the list
        const double saved = 2.0 * rows * D * (double)wg_skipped_cols + 4.0 * rows * D * (double)(L - visited_cols);
        atomicAdd(&p.stats[0], (unsigned long long)nk);
        atomicAdd(&p.stats[1], (unsigned long long)wg_skipped);
        atomicAdd(&p.stats[2], (unsigned long long)saved);
        atomicAdd(&p.stats[3], (unsigned long long)(nk - nvis));
    }
}

#endif

}  // namespace fa90wsl

// Grid: B·H·ceil(L/128) CTAs of 384 threads, fa90wsl::smem_bytes(STAGES) of dynamic shared memory; D = 128, bc = 64.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FA90WSL_BODY(MODE, STAGES) fa90wsl::attention_ws_list<MODE, STAGES>(mq, mk, mv, p);
#else
#define FA90WSL_BODY(MODE, STAGES) __trap();
#endif
// Every listed tile computed (MODE 0: topk, topp, dense in orders local and estimate), or the in-loop rules on the
// listed tiles (1 blasst, 2 dynsparse, 3 recall bound=max, hybrid with bound=max among them), one entry point each;
// rings of 2 stages per consumer (3 stages measured no faster, docs/BENCHMARKS.md).
#define FA90WSL_ENTRY(NAME, MODE, STAGES)                                                                             \
    extern "C" __global__ void __launch_bounds__(384, 1) flash_attn_sm90ws_list_##NAME##_d128_bc64(                   \
            const __grid_constant__ fa90ws::TensorMap mq, const __grid_constant__ fa90ws::TensorMap mk,               \
            const __grid_constant__ fa90ws::TensorMap mv, fa90::Fa90ListParams p) {                                   \
        FA90WSL_BODY(MODE, STAGES)                                                                                    \
    }
FA90WSL_ENTRY(dense, 0, 2)
FA90WSL_ENTRY(blasst, 1, 2)
FA90WSL_ENTRY(dynsparse, 2, 2)
FA90WSL_ENTRY(recall, 3, 2)
#undef FA90WSL_ENTRY
#undef FA90WSL_BODY
