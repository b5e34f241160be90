// flash_attention_sm90_ws_list128.cu: the listed policies at q-tiles of 128 rows (br = 128, bc = 64, D = 128) on the
// warp-specialised Hopper structure. With br = 128 the plan gives one list per 128-row q-tile, so both consumer
// warpgroups of a CTA (rows 0-63 and 64-127 of the q-tile) walk the same list and share every K/Vᵀ block, as the
// unlisted kernel's consumers do (flash_attention_sm90_ws.cu); at br = 64 (flash_attention_sm90_ws_list.cu) each
// consumer has its own list and loads its own blocks, twice the K/V traffic per visited tile, which measured as the
// listed kernel's gap to dense (docs/BENCHMARKS.md, session 8).
//
//   producer (one thread): Q once (four 64 × 64 boxes); then per pair e of list entries: wait until stage e % 2 is
//     free (both consumers released pair e − 2), load the pair's two 64-key tiles side by side into one 128-key
//     block of K and of Vᵀ (tile 2e at keys 0-63, tile 2e + 1 at 64-127; an odd list's last block has only the
//     first), zeros outside the tensor.
//   consumers, per pair e: O += P_{e−1}·V_{e−1} and S = Q·K_eᵀ as one wgmma group (m64n128k16), one wait; keys ≥ L
//     and an absent second tile masked; row maxima per tile and over the block; for the rule entry points the
//     policy's decision per tile in list order on a vote of all 128 rows of the tile, i.e. of both consumers: each
//     votes over its own rows, posts the votes to the other through a shared-memory ring, takes the exps as if the
//     tiles were kept and applies the decisions one pair later, before that pair's PV (see the rule loop below); P to
//     bf16; the PV covers only the 64-key halves with a kept tile.
// Keep flags [B·H, ceil(L/128), nk]: 2 for every kv-tile first (not on the list), then 1/0 per visited tile, written by
// the first consumer. Counters as the other listed kernels (tiles, skipped in the loop, FLOPs saved, tiles off the list).
// Shared memory: Q 32 KiB + two stages of K and Vᵀ blocks (4 × 32 KiB) = 160 KiB + 1 KiB alignment.
// Java launcher: CudaAttention.launchPlanned (Q and K maps with boxes {64, 1, 64, 1}, Vᵀ {64, 128, 1}).
#include <stdint.h>
#include <cuda_bf16.h>
#include "flash_attention_sm90.cuh"
#include "flash_attention_sm90_ws.cuh"

namespace fa90wsl128 {

using fa90ws::D;
using fa90ws::TensorMap;
constexpr int BC = 64;                           // keys per listed tile
constexpr int TILE_BYTES = BC * D * 2;           // 16 KiB: one tile's K (two 64 × 64 panels) or Vᵀ (128 d-rows × 64 keys)
constexpr int BLOCK_BYTES = 2 * TILE_BYTES;      // 32 KiB: a pair's K or Vᵀ
constexpr int Q_BYTES = 128 * D * 2;             // 32 KiB: the q-tile's 128 rows
constexpr int SMEM_BYTES = Q_BYTES + 4 * BLOCK_BYTES + 1024;
static_assert(SMEM_BYTES <= 227 * 1024, "one CTA per SM");

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

template <int MODE>
__device__ void attention_ws_list128(const TensorMap& mq, const TensorMap& mk, const TensorMap& mv, const fa90::Fa90ListParams& lp) {
    static_assert(MODE >= 0 && MODE <= 3, "dense, blasst, dynsparse, recall bound=max");
    constexpr bool RULE = MODE != 0;
    const fa90::Fa90Params& p = lp.base;
    extern __shared__ char smem_wsl128[];
    __shared__ uint64_t bars[9];   // the Ring's barriers
    __shared__ uint64_t vote_bars[2 * 4];     // the rules' vote ring: per consumer, four slots, one arrival each
    __shared__ uint32_t vote_words[2 * 4];    // bit 0 tile 0 skipped, bit 1 tile 1 if 0 kept, bit 2 tile 1 if 0 skipped
    const uint32_t base = ((uint32_t)__cvta_generic_to_shared(smem_wsl128) + 1023u) & ~1023u;
    const uint32_t sQ = base, sK = base + Q_BYTES, sV = sK + 2 * BLOCK_BYTES;
    const fa90ws::Ring ring{(uint32_t)__cvta_generic_to_shared(&bars[0])};
    const uint32_t vb0 = (uint32_t)__cvta_generic_to_shared(&vote_bars[0]);
    auto vbar = [&](int c, int slot) { return vb0 + 8 * (c * 4 + slot); };

    const int L = p.seq_len, H = p.heads;
    const int nq = (L + 127) / 128, nk = (L + BC - 1) / BC;
    const int qt = blockIdx.x % nq, bh = blockIdx.x / nq;
    const int b = bh / H, h = bh % H;
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x / 128), 0), tid = threadIdx.x % 128;

    if (threadIdx.x == 0) {
        ring.init();
        if (RULE) {
            for (int i = 0; i < 8; i++) fa90ws::bar_init(vbar(i / 4, i % 4), 1);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    // The q-tile's list (shared by the whole CTA) and its length.
    int nvis = nk;
    const int* lst = nullptr;
    if (lp.count != nullptr) nvis = lp.count[(long long)bh * nq + qt];
    if (lp.list != nullptr) lst = lp.list + (long long)bh * lp.list_bh_stride + (long long)qt * nk;
    auto entry = [&](int e) { return lst != nullptr ? __ldg(lst + e) : e; };   // kv-tile index of list entry e
    const int npairs = (nvis + 1) / 2;

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        if (tid == 0) {
            fa90ws::bar_expect(ring.fullQ(), Q_BYTES);
            for (int half = 0; half < 2; half++) {
                for (int panel = 0; panel < 2; panel++) {
                    fa90ws::tma_4d(sQ + (half * 2 + panel) * 8192, mq, panel * 64, h, qt * 128 + half * 64, b, ring.fullQ());
                }
            }
            for (int e = 0; e < npairs; e++) {
                const int s = e & 1, n = min(2, nvis - 2 * e);
                if (e >= 2) fa90ws::bar_wait(ring.emptyK(s), ((e >> 1) + 1) & 1);
                fa90ws::bar_expect(ring.fullK(s), n * TILE_BYTES);
                for (int t = 0; t < n; t++) {
                    const int key0 = entry(2 * e + t) * BC;
                    for (int panel = 0; panel < 2; panel++) {
                        fa90ws::tma_4d(sK + s * BLOCK_BYTES + panel * TILE_BYTES + t * 8192, mk, panel * 64, h, key0, b, ring.fullK(s));
                    }
                }
                if (e >= 2) fa90ws::bar_wait(ring.emptyV(s), ((e >> 1) + 1) & 1);
                fa90ws::bar_expect(ring.fullV(s), n * TILE_BYTES);
                for (int t = 0; t < n; t++) {
                    fa90ws::tma_3d(sV + s * BLOCK_BYTES + t * TILE_BYTES, mv, entry(2 * e + t) * BC, 0, bh, ring.fullV(s));
                }
            }
            ring.drain(npairs);
        }
        return;
    }
    const int np = __shfl_sync(0xffffffffu, npairs, 0);
    nvis = __shfl_sync(0xffffffffu, nvis, 0);

    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int half = wg - 1;
    const int r0 = qt * 128 + half * 64, rows = max(0, min(64, L - r0));
    const int warp = tid >> 5, lane = tid & 31, t4 = lane & 3;
    const int lr0 = warp * 16 + (lane >> 2), lr1 = lr0 + 8;
    const bool valid0 = r0 + lr0 < L, valid1 = r0 + lr1 < L;
    const float scale = p.scale, sl2e = scale * 1.4426950408889634f, thr = p.threshold;
    const float ethr = MODE == 2 ? expf(thr) : 0.f;   // dynsparse: e^λ
    const uint32_t myQ = sQ + half * 2 * 8192;
    // The first consumer owns the q-tile's keep flags and its tile counters (every decision is the whole CTA's).
    unsigned int* keep = p.keep == nullptr || half != 0 ? nullptr : p.keep + ((long long)bh * nq + qt) * nk;
    if (keep != nullptr) {
        for (int j = tid; j < nk; j += 128) keep[j] = 2u;
        asm volatile("bar.sync 3, 128;\n" ::: "memory");   // before thread 0 marks the visited tiles (1, 2: the votes)
    }

    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, skipped[2] = {0.f, 0.f}, mrun[2] = {-INFINITY, -INFINITY};
    float o[64];
    #pragma unroll
    for (int i = 0; i < 64; i++) o[i] = 0.f;
    float s[64];
    uint32_t pa[8][4];
    int wg_skipped = 0, wg_skipped_cols = 0, visited_cols = 0;   // at most nk tiles, L columns

    fa90ws::bar_wait(ring.fullQ(), 0);
    int pv_prev = 0;   // PV owed for pair e − 1: 0 none, 1 keys 0-63, 2 keys 64-127, 3 all
    // The rules decide on a vote of all 128 rows of a tile, i.e. of both consumers. Waiting for the other consumer at
    // every tile made them take turns instead of overlapping (measured: hybrid 3-15 % slower than at br = 64), so
    // the decisions are deferred by one pair: after pair e's QKᵀ each consumer votes over its own rows (three votes:
    // tile 0; tile 1 if tile 0 is kept; tile 1 if tile 0 is skipped), posts them to the other through a four-slot
    // ring, takes both tiles' exps as if kept, and reads the other's votes at the start of pair e + 1, before pair
    // e's PV: then it knows which tiles were skipped, leaves their halves out of the PV and adds only the kept
    // tiles' sums to l (the skipped ones' bounds to skipped). The state and the order of its updates are the same
    // as deciding in place. A consumer is at most one pair ahead of the other (they share the K/V ring), so four
    // slots are never overwritten before they are read.
    // (The vote ring's state below is the rule entry points' only; the others compile without it.)
    int pend_n = 0, pend_jt[2] = {0, 0}, pend_cols[2] = {0, 0};
    float pend_ps[2][2], pend_bound[2][2], pend_tm[2][2];
    uint32_t own = 0;
    for (int e = 0; e <= np; e++) {
        const bool qk = e < np;
        const int st = e & 1, par = (e >> 1) & 1, pst = (e + 1) & 1, ppar = ((e - 1) >> 1) & 1;
        const uint32_t kbuf = sK + st * BLOCK_BYTES, pvbuf = sV + pst * BLOCK_BYTES;
        if constexpr (RULE) {
            if (e > 0) {
                // Pair e − 1's decisions: both consumers' votes.
                const int slot = (e - 1) & 3;
                fa90ws::bar_wait(vbar(1 - half, slot), ((e - 1) >> 2) & 1);
                const uint32_t both = own & vote_words[(1 - half) * 4 + slot];
                const bool d0 = (both & 1u) != 0u;
                const bool d1 = pend_n == 2 && (both & (d0 ? 4u : 2u)) != 0u;
                #pragma unroll
                for (int t = 0; t < 2; t++) {
                    if (t >= pend_n) break;
                    const bool skip = t == 0 ? d0 : d1;
                    if (skip) {
                        if constexpr (MODE == 3) { skipped[0] += pend_bound[t][0]; skipped[1] += pend_bound[t][1]; }
                        wg_skipped++;
                        wg_skipped_cols += pend_cols[t];
                    } else {
                        l[0] += pend_ps[t][0];
                        l[1] += pend_ps[t][1];
                        if constexpr (MODE == 1) {
                            mrun[0] = fmaxf(mrun[0], pend_tm[t][0]);
                            mrun[1] = fmaxf(mrun[1], pend_tm[t][1]);
                        }
                    }
                    if (keep != nullptr && tid == 0) keep[pend_jt[t]] = skip ? 0u : 1u;
                }
                pv_prev = (d0 ? 0 : 1) | (pend_n == 2 && !d1 ? 2 : 0);
            }
        }
        if (qk) fa90ws::bar_wait(ring.fullK(st), par);
        if (e > 0) fa90ws::bar_wait(ring.fullV(pst), ppar);   // waited for even when no PV reads it: the phases stay in step
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        if (pv_prev == 3) {
            fa90ws::issue_pv<0, 8>(o, pa, pvbuf);
        } else if (pv_prev == 1) {
            fa90ws::issue_pv<0, 4>(o, pa, pvbuf);
        } else if (pv_prev == 2) {
            fa90ws::issue_pv<4, 8>(o, pa, pvbuf);
        }
        if (qk) {
            #pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                // Q: panel kk/4 of this half (64 rows × 128 B); K: panel kk/4 (128 rows × 128 B); 32 B per k-step
                const uint32_t qoff = (kk >> 2) * 8192 + (kk & 3) * 32, koff = (kk >> 2) * TILE_BYTES + (kk & 3) * 32;
                fa90ws::wgmma_ss_n128(s, fa90::desc128(myQ + qoff), fa90::desc128(kbuf + koff), kk == 0 ? 0 : 1);
            }
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        fa90::fence_regs<64>(o);
        fa90::fence_regs<64>(s);
        if (qk) fa90ws::bar_arrive(ring.emptyK(st));
        if (e > 0) fa90ws::bar_arrive(ring.emptyV(pst));
        pv_prev = 0;
        if (!qk) break;

        // The pair's tiles: ntiles (1 or 2, CTA-uniform), the first key of each (an absent second tile masked whole).
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
        fa90ws::rescale_o(o, alpha);
        if constexpr (RULE) {
            // Both tiles' exps as if kept (P of an absent second tile zero), their whole-row sums, the votes.
            bool agree[3][2];
            #pragma unroll
            for (int sub = 0; sub < 2; sub++) {
                if (sub >= ntiles) {
                    fa90ws::zero_ksteps<4>(pa, 4);
                    pend_ps[1][0] = 0.f; pend_ps[1][1] = 0.f;
                    agree[1][0] = agree[1][1] = agree[2][0] = agree[2][1] = true;
                    continue;
                }
                const int cols = min(BC, L - kb[sub]);
                visited_cols += cols;
                pend_cols[sub] = cols;
                #pragma unroll
                for (int r = 0; r < 2; r++) {
                    pend_tm[sub][r] = tm[sub][r];
                    if (sub == 0) {
                        agree[0][r] = fa90ws::rule_agrees<MODE>(tm[0][r], m[r], l[r], skipped[r], mrun[r], cols, scale, sl2e, thr,
                                                                ethr, pend_bound[0][r]);
                    } else {
                        // tile 1 if tile 0 is kept (its sum in l, its maximum in mrun) and if it is skipped (its bound)
                        agree[1][r] = fa90ws::rule_agrees<MODE>(tm[1][r], m[r], l[r] + pend_ps[0][r], skipped[r],
                                                                fmaxf(mrun[r], tm[0][r]), cols, scale, sl2e, thr, ethr, pend_bound[1][r]);
                        float unused;
                        agree[2][r] = fa90ws::rule_agrees<MODE>(tm[1][r], m[r], l[r], skipped[r] + pend_bound[0][r], mrun[r], cols,
                                                                scale, sl2e, thr, ethr, unused);
                    }
                }
                float ps[2];
                fa90ws::exp_groups<8>(s, sub * 8, sl2e, msc, ps);
                #pragma unroll
                for (int r = 0; r < 2; r++) {
                    ps[r] += __shfl_xor_sync(0xffffffffu, ps[r], 1);
                    ps[r] += __shfl_xor_sync(0xffffffffu, ps[r], 2);
                    pend_ps[sub][r] = ps[r];
                }
                fa90ws::pack_ksteps<4>(s, pa, sub * 4);
            }
            own = 0u;
            #pragma unroll
            for (int v = 0; v < 3; v++) {
                if (fa90ws::wg_skip(agree[v][0], agree[v][1], valid0, valid1, half)) own |= 1u << v;
            }
            if (tid == 0) {
                const int slot = e & 3;
                vote_words[half * 4 + slot] = own;
                fa90ws::bar_arrive(vbar(half, slot));   // release: the word is visible to the other's wait
            }
            pend_n = ntiles;
            pend_jt[0] = jt[0];
            pend_jt[1] = jt[1];
        } else {
            // No rule in the loop (dense, topk, topp and the orders): every listed tile is kept.
            unsigned kept = 0;   // bit sub: tile sub kept (CTA-uniform)
            float rs[2] = {0.f, 0.f};
            #pragma unroll
            for (int sub = 0; sub < 2; sub++) {
                if (sub >= ntiles) {   // no second tile (uniform): P = 0, and the PV below leaves this half out
                    fa90ws::zero_ksteps<4>(pa, sub * 4);
                    continue;
                }
                const int cols = min(BC, L - kb[sub]);
                visited_cols += cols;
                if (keep != nullptr && tid == 0) keep[jt[sub]] = 1u;
                kept |= 1u << sub;
                float ps[2];
                fa90ws::exp_groups<8>(s, sub * 8, sl2e, msc, ps);
                rs[0] += ps[0];
                rs[1] += ps[1];
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
    }

    if (rows == 0) return;   // an absent second half of the last q-tile: it computed on zero rows, writes nothing
    fa90ws::store_rows(o, l, m, p, b, h, r0 + lr0, r0 + lr1, valid0, valid1, t4);
    if (tid == 0) {
        // FLOPs saved, this consumer's rows: PV of the tiles skipped in the loop, QKᵀ and PV of the tiles off the list
        const double saved = 2.0 * rows * D * (double)wg_skipped_cols + 4.0 * rows * D * (double)(L - visited_cols);
        atomicAdd(&p.stats[2], (unsigned long long)saved);
        if (half == 0) {
            atomicAdd(&p.stats[0], (unsigned long long)nk);
            atomicAdd(&p.stats[1], (unsigned long long)wg_skipped);
            atomicAdd(&p.stats[3], (unsigned long long)(nk - nvis));
        }
    }
}

#endif

}  // namespace fa90wsl128

// Grid: B·H·ceil(L/128) CTAs of 384 threads, fa90wsl128::SMEM_BYTES of dynamic shared memory; D = 128, br = 128, bc = 64.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FA90WSL128_BODY(MODE) fa90wsl128::attention_ws_list128<MODE>(mq, mk, mv, p);
#else
#define FA90WSL128_BODY(MODE) __trap();
#endif
#define FA90WSL128_ENTRY(NAME, MODE)                                                                                   \
    extern "C" __global__ void __launch_bounds__(384, 1) flash_attn_sm90ws_list128_##NAME##_d128_bc64(                 \
            const __grid_constant__ fa90ws::TensorMap mq, const __grid_constant__ fa90ws::TensorMap mk,               \
            const __grid_constant__ fa90ws::TensorMap mv, fa90::Fa90ListParams p) {                                   \
        FA90WSL128_BODY(MODE)                                                                                         \
    }
FA90WSL128_ENTRY(dense, 0)
FA90WSL128_ENTRY(blasst, 1)
FA90WSL128_ENTRY(dynsparse, 2)
FA90WSL128_ENTRY(recall, 3)
#undef FA90WSL128_ENTRY
#undef FA90WSL128_BODY
