// flash_attention_sm90_ws_list.cu: the warp-specialised Hopper kernel for the listed policies (topk, topp, hybrid,
// and dense/blasst/dynsparse/recall bound=max in orders local and estimate) at D = 128, bc = 64: each 64-row q-tile
// walks its own list of 64-key kv-tiles (attention_plan.cu) in list order, so a tile off the list costs no load, no
// QKᵀ, no exp and no PV. The ws kernel's structure (flash_attention_sm90_ws.cu) with two changes:
//   - the two consumer warpgroups of a CTA (q-tiles 2i and 2i + 1) have different lists, so they do not share K/V;
//     each has its own ring fed by its own producer thread (lane 0 of producer warp 0 or 1);
//   - a consumer takes its list two entries at a time: the two 64-key tiles of a pair are loaded side by side into one
//     128-key block (keys 0-63 the first entry's, 64-127 the second's; an odd list's last block has only the first),
//     so the loop has the unlisted kernel's shape per 128 keys (one m64n128 QKᵀ, one wait, one row-maximum pass and
//     rescale) instead of paying them per 64 keys (session 6's version, 0.63-0.72x of ws dense per visited tile).
//
//   producer thread c: Q rows of q-tile 2i + c once; K of pair 0; then per pair e: K of pair e + 1 into the other K
//     stage (once the consumer has released it), then Vᵀ of pair e into the single Vᵀ stage (once the consumer's PV of
//     pair e − 1 is done). Zeros outside the tensor.
//   consumer c, per pair e: O += P_{e−1}·V_{e−1} as one wgmma group and S = Q·K_eᵀ (m64n128k16) as a second, waiting
//     for the first alone to release the Vᵀ stage early (it is single-buffered: shared memory holds Q, two K stages and
//     one Vᵀ stage per consumer), then for the second; keys ≥ L and an absent second tile masked; row maxima per tile;
//     for the rule entry points the policy's decision per tile in list order (MODE 1 blasst, 2 dynsparse, 3 recall
//     bound=max, a template parameter, as the unlisted ws kernel decides them: a warpgroup vote on named barrier
//     1 + c); exps of the kept tiles against the block's new maximum; P to bf16; the next PV covers only the 64-key
//     halves with a kept tile.
// Keep flags: 2 for every kv-tile of the q-tile first (not on the list), then 1/0 per visited tile. Counters as
// wg1's listed kernels: tiles, skipped in the loop, FLOPs saved (2·rows·cols·D per in-loop skip, 4·rows·cols·D per
// tile off the list), tiles off the list.
// Shared memory: Q 32 KiB + 2 consumers × (2 K stages + 1 Vᵀ stage) × 32 KiB = 224 KiB + 1 KiB alignment.
// Java launcher: CudaAttention.launchPlanned (Q and K maps with boxes {64, 1, 64, 1}, Vᵀ {64, 128, 1}).
#include <stdint.h>
#include <cuda_bf16.h>
#include "flash_attention_sm90.cuh"
#include "flash_attention_sm90_ws.cuh"

namespace fa90wsl {

using fa90ws::D;
using fa90ws::TensorMap;
constexpr int BC = 64;                           // keys per listed tile
constexpr int TILE_BYTES = BC * D * 2;           // 16 KiB: one tile's K (two 64 × 64 panels) or Vᵀ (128 d-rows × 64 keys)
constexpr int BLOCK_BYTES = 2 * TILE_BYTES;      // 32 KiB: a pair's K or Vᵀ
constexpr int QH_BYTES = 64 * D * 2;             // 16 KiB: one consumer's 64 q rows
constexpr int SMEM_BYTES = 2 * QH_BYTES + 2 * 3 * BLOCK_BYTES + 1024;   // Q, per consumer K×2 + Vᵀ×1, alignment
static_assert(SMEM_BYTES <= 227 * 1024, "one CTA per SM");

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

template <int MODE>
__device__ void attention_ws_list(const TensorMap& mq, const TensorMap& mk, const TensorMap& mv, const fa90::Fa90ListParams& lp) {
    static_assert(MODE >= 0 && MODE <= 3, "dense, blasst, dynsparse, recall bound=max");
    constexpr bool RULE = MODE != 0;
    const fa90::Fa90Params& p = lp.base;
    extern __shared__ char smem_wsl[];
    // Per consumer c: fullQ, fullK[2], emptyK[2], fullV, emptyV.
    __shared__ uint64_t bars[2 * 7];
    const uint32_t base = ((uint32_t)__cvta_generic_to_shared(smem_wsl) + 1023u) & ~1023u;
    const uint32_t b0 = (uint32_t)__cvta_generic_to_shared(&bars[0]);
    auto qbuf = [&](int c) { return base + c * QH_BYTES; };
    auto kbuf = [&](int c, int s) { return base + 2 * QH_BYTES + (c * 3 + s) * BLOCK_BYTES; };
    auto vbuf = [&](int c) { return base + 2 * QH_BYTES + (c * 3 + 2) * BLOCK_BYTES; };
    auto bar = [&](int c, int i) { return b0 + 8 * (c * 7 + i); };
    auto fullQ = [&](int c) { return bar(c, 0); };
    auto fullK = [&](int c, int s) { return bar(c, 1 + s); };
    auto emptyK = [&](int c, int s) { return bar(c, 3 + s); };
    auto fullV = [&](int c) { return bar(c, 5); };
    auto emptyV = [&](int c) { return bar(c, 6); };

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
            for (int s = 0; s < 2; s++) {
                fa90ws::bar_init(fullK(c, s), 1);
                fa90ws::bar_init(emptyK(c, s), 128);   // every thread of consumer c, after its own wgmma wait
            }
            fa90ws::bar_init(fullV(c), 1);
            fa90ws::bar_init(emptyV(c), 128);
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
    const int npairs = (nvis + 1) / 2;

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        if ((tid & 31) == 0 && c < 2 && present) {
            fa90ws::bar_expect(fullQ(c), QH_BYTES);
            for (int panel = 0; panel < 2; panel++) {
                fa90ws::tma_4d(qbuf(c) + panel * 8192, mq, panel * 64, h, qt64 * 64, b, fullQ(c));
            }
            // K of pair e into stage e % 2: tile 2e's 64 rows at row 0 of each 128-row panel, tile 2e + 1's at row 64.
            auto load_k = [&](int e) {
                const int s = e & 1, n = min(2, nvis - 2 * e);
                fa90ws::bar_expect(fullK(c, s), n * TILE_BYTES);
                for (int t = 0; t < n; t++) {
                    const int key0 = entry(2 * e + t) * BC;
                    for (int panel = 0; panel < 2; panel++) {
                        fa90ws::tma_4d(kbuf(c, s) + panel * TILE_BYTES + t * 8192, mk, panel * 64, h, key0, b, fullK(c, s));
                    }
                }
            };
            if (npairs > 0) load_k(0);
            for (int e = 0; e < npairs; e++) {
                if (e + 1 < npairs) {
                    // stage (e + 1) % 2 was last used by pair e − 1: released in the consumer's iteration e − 1
                    if (e + 1 >= 2) fa90ws::bar_wait(emptyK(c, (e + 1) & 1), (((e + 1) >> 1) + 1) & 1);
                    load_k(e + 1);
                }
                // the single Vᵀ stage: free once the PV of pair e − 1 is done (the consumer's iteration e)
                if (e >= 1) fa90ws::bar_wait(emptyV(c), (e - 1) & 1);
                const int n = min(2, nvis - 2 * e);
                fa90ws::bar_expect(fullV(c), n * TILE_BYTES);
                for (int t = 0; t < n; t++) {
                    fa90ws::tma_3d(vbuf(c) + t * TILE_BYTES, mv, entry(2 * e + t) * BC, 0, bh, fullV(c));
                }
            }
            // Tail: stay until consumer c has released the last stages, so no load is in flight at exit.
            for (int e = npairs > 2 ? npairs - 2 : 0; e < npairs; e++) fa90ws::bar_wait(emptyK(c, e & 1), (e >> 1) & 1);
            if (npairs > 0) fa90ws::bar_wait(emptyV(c), (npairs - 1) & 1);
        }
        return;
    }
    if (!present) return;   // the whole warpgroup: q-tile 2i + 1 past the end
    // The list length is warpgroup-uniform; read from lane 0 so ptxas sees the loop bound, and so the wgmma under
    // it, as uniform (C7520: serialized wgmma otherwise).
    const int np = __shfl_sync(0xffffffffu, npairs, 0);
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
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, skipped[2] = {0.f, 0.f}, mrun[2] = {-INFINITY, -INFINITY};
    float o[64];
    #pragma unroll
    for (int i = 0; i < 64; i++) o[i] = 0.f;
    float s[64];
    uint32_t pa[8][4];
    long long wg_skipped = 0, wg_skipped_cols = 0, visited_cols = 0;

    fa90ws::bar_wait(fullQ(c), 0);
    const uint32_t myQ = qbuf(c), myV = vbuf(c);
    int pv_prev = 0;   // PV owed for pair e − 1: 0 none, 1 keys 0-63, 2 keys 64-127, 3 all
    for (int e = 0; e <= np; e++) {
        const bool qk = e < np;
        const int st = e & 1, par = (e >> 1) & 1;
        // PV of pair e − 1 as its own group, then S = Q·K_eᵀ as a second: the first wait releases the Vᵀ stage while
        // QKᵀ still runs, so the producer's next Vᵀ load starts as early as it can.
        if (e > 0) fa90ws::bar_wait(fullV(c), (e - 1) & 1);   // waited for even when no PV reads it: phases in step
        if (qk) fa90ws::bar_wait(fullK(c, st), par);
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        if (pv_prev == 3) {
            fa90ws::issue_pv<0, 8>(o, pa, myV);
        } else if (pv_prev == 1) {
            fa90ws::issue_pv<0, 4>(o, pa, myV);
        } else if (pv_prev == 2) {
            fa90ws::issue_pv<4, 8>(o, pa, myV);
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        if (qk) {
            #pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                // Q: panel kk/4 (64 rows × 128 B); K: panel kk/4 (128 rows × 128 B); 32 B per k-step
                const uint32_t qoff = (kk >> 2) * 8192 + (kk & 3) * 32, koff = (kk >> 2) * TILE_BYTES + (kk & 3) * 32;
                fa90ws::wgmma_ss_n128(s, fa90::desc128(myQ + qoff), fa90::desc128(kbuf(c, st) + koff), kk == 0 ? 0 : 1);
            }
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
        fa90::fence_regs<64>(o);
        if (e > 0) fa90ws::bar_arrive(emptyV(c));
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        fa90::fence_regs<64>(s);
        if (qk) fa90ws::bar_arrive(emptyK(c, st));
        pv_prev = 0;
        if (!qk) break;

        // The pair's tiles: ntiles (1 or 2, uniform), the first key of each (an absent second tile masked whole).
        const int ntiles = min(2, nvis - 2 * e);
        int jt[2], kb[2];
        jt[0] = entry(2 * e);
        jt[1] = ntiles == 2 ? entry(2 * e + 1) : 0;
        kb[0] = jt[0] * BC;
        kb[1] = ntiles == 2 ? jt[1] * BC : L;
        fa90ws::mask_past_end<8>(s, kb[0], L, t4);
        fa90ws::mask_past_end<8>(s + 32, kb[1], L, t4);
        float tm[2][2], bm[2];
        fa90ws::tile_maxima<2, 8>(s, m, tm, bm);
        float alpha[2], msc[2];
        fa90ws::move_max<MODE>(m, l, skipped, bm, sl2e, alpha, msc);
        // O follows the reference maximum even when no tile of the pair is kept (a skipped tile may hold the row's new
        // maximum).
        fa90ws::rescale_o(o, alpha);
        unsigned kept = 0;   // bit sub: tile sub kept (warpgroup-uniform)
        float rs[2] = {0.f, 0.f};   // this thread's part of the kept tiles' sums not yet in l
        #pragma unroll
        for (int sub = 0; sub < 2; sub++) {
            if (sub >= ntiles) {   // no second tile (uniform): P = 0, and the PV below leaves this half out
                fa90ws::zero_ksteps<4>(pa, sub * 4);
                continue;
            }
            const int cols = min(BC, L - kb[sub]);
            visited_cols += cols;
            bool skip = false;
            if constexpr (RULE) {
                bool agree[2];
                float bound[2] = {0.f, 0.f};
                #pragma unroll
                for (int r = 0; r < 2; r++) {
                    agree[r] = fa90ws::rule_agrees<MODE>(tm[sub][r], m[r], l[r], skipped[r], mrun[r], cols, scale, sl2e, thr, ethr, bound[r]);
                }
                skip = fa90ws::wg_skip(agree[0], agree[1], valid0, valid1, c);
                if (skip) {
                    if constexpr (MODE == 3) { skipped[0] += bound[0]; skipped[1] += bound[1]; }
                    wg_skipped++;
                    wg_skipped_cols += cols;
                    fa90ws::zero_ksteps<4>(pa, sub * 4);
                } else if constexpr (MODE == 1) {
                    mrun[0] = fmaxf(mrun[0], tm[sub][0]);
                    mrun[1] = fmaxf(mrun[1], tm[sub][1]);
                }
            }
            if (keep != nullptr && tid == 0) keep[jt[sub]] = skip ? 0u : 1u;
            if (skip) continue;
            kept |= 1u << sub;
            float ps[2];
            fa90ws::exp_groups<8>(s, sub * 8, sl2e, msc, ps);
            if (MODE >= 2 && sub == 0) {
                // dynsparse and recall decide the next tile on l: this tile's sum now, whole rows
                #pragma unroll
                for (int r = 0; r < 2; r++) {
                    ps[r] += __shfl_xor_sync(0xffffffffu, ps[r], 1);
                    ps[r] += __shfl_xor_sync(0xffffffffu, ps[r], 2);
                    l[r] += ps[r];
                }
            } else {
                rs[0] += ps[0];
                rs[1] += ps[1];
            }
            fa90ws::pack_ksteps<4>(s, pa, sub * 4);
        }
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 1);
            rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 2);
            l[r] += rs[r];
        }
        pv_prev = (kept & 1u ? 1 : 0) | (kept & 2u ? 2 : 0);
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

// Grid: B·H·ceil(L/128) CTAs of 384 threads, fa90wsl::SMEM_BYTES of dynamic shared memory; D = 128, bc = 64.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FA90WSL_BODY(MODE) fa90wsl::attention_ws_list<MODE>(mq, mk, mv, p);
#else
#define FA90WSL_BODY(MODE) __trap();
#endif
// Every listed tile computed (MODE 0: topk, topp, dense in orders local and estimate), or the in-loop rules on the
// listed tiles (1 blasst, 2 dynsparse, 3 recall bound=max, hybrid with bound=max among them), one entry point each.
#define FA90WSL_ENTRY(NAME, MODE)                                                                             \
    extern "C" __global__ void __launch_bounds__(384, 1) flash_attn_sm90ws_list_##NAME##_d128_bc64(                   \
            const __grid_constant__ fa90ws::TensorMap mq, const __grid_constant__ fa90ws::TensorMap mk,               \
            const __grid_constant__ fa90ws::TensorMap mv, fa90::Fa90ListParams p) {                                   \
        FA90WSL_BODY(MODE)                                                                                    \
    }
FA90WSL_ENTRY(dense, 0)
FA90WSL_ENTRY(blasst, 1)
FA90WSL_ENTRY(dynsparse, 2)
FA90WSL_ENTRY(recall, 3)
#undef FA90WSL_ENTRY
#undef FA90WSL_BODY
