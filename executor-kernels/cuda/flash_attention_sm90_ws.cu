// flash_attention_sm90_ws.cu: the warp-specialised Hopper attention kernel (FlashAttention-3's structure), D = 128,
// the default kernel family ("ws") for the unlisted policies on compute 9.0: dense, blasst, dynsparse and recall
// bound=max in natural order. A CTA of three warpgroups: one producer that only issues TMA loads, two consumers with
// 64 q rows each (a 128-row q-tile) that only run wgmma and the softmax, sharing each K and Vᵀ block of 128 keys
// through a two-stage shared-memory ring synchronised by mbarriers (no CTA-wide barrier in the loop).
//
//   producer (warpgroup 0, one thread issues): Q once; then for every key block j: wait until stage j % 2 is free
//     (its "empty" barrier: both consumers are done with block j − 2), expect 32 KiB on its "full" barrier and
//     issue the two TMA boxes of K (and, on a second barrier pair, of Vᵀ); 128-byte swizzle, zeros outside.
//   consumers (warpgroups 1, 2), per block j: wait for K_j (and Vᵀ_{j-1}); issue O += P_{j-1}·V_{j-1} and
//     S = Q·K_jᵀ as one wgmma group (m64n128k16; Q, K, Vᵀ from shared memory, P from registers); release both;
//     mask keys ≥ Lk (kv_len: L, but in the DiT's cross-attention the prompt's length); row maxima per policy tile
//     and over the block; the policy's rule per tile in order
//     (sparse entry points; a WG-wide vote on a named barrier); exps of the kept tiles against the block maximum;
//     O rescaled only by warps whose maxima moved; P to bf16 in registers, zero for skipped tiles; the next
//     block's PV covers only the 64-key halves with a kept tile (none if the block has none).
// Registers: setmaxnreg gives the producer 40 and each consumer 232 (S 64 + O 64 + P 32 fp32/bf16 words).
// Measured (docs/BENCHMARKS.md): dense 595-638 TFLOP/s at the Wan shapes on H100 and H200, on par with or ahead of
// cuDNN in the same run; FA3's ping-pong turns between the consumers gained nothing and were removed. The rule entry
// points cost 13-20 % over dense when they decide every tile and skip none (recall r = 1), so at the 6-33 % tile
// sparsity of the video-like inputs they run at 0.73-0.95x of dense and pay off from ~50 % (bc 64). Not here: the
// listed policies (flash_attention_sm90_ws_list.cu at bc = 64, wg1's listed kernels otherwise), D = 64 (wg1-lean).
// Java launcher: CudaAttention (tensor maps from TensorMaps: Q and K as [D, H, L, B] boxes {64, 1, 64|128, 1},
// Vᵀ as [Lp, D, B·H] boxes {64, 128, 1}).
#include <stdint.h>
#include <cuda_bf16.h>
#include "flash_attention_sm90.cuh"
#include "flash_attention_sm90_ws.cuh"

namespace fa90ws {

constexpr int BN = 128;                          // keys per block
constexpr int Q_BYTES = 128 * D * 2;             // 32 KiB: two 64-row halves × two 64-column panels
constexpr int KV_STAGE_BYTES = BN * D * 2;       // 32 KiB
constexpr int SMEM_BYTES = Q_BYTES + 4 * KV_STAGE_BYTES + 1024;
static_assert(SMEM_BYTES <= 227 * 1024, "one CTA per SM");

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// MODE 0: dense, keep flags and counters per tile of BC keys. MODE 1 blasst, 2 dynsparse, 3 recall bound=max: the
// in-loop rules of flash_attention_sm90.cu on tiles of BC keys, each 128-key block's NSUB tiles decided in order on
// the state the one before left (as the reference visits them). The rule is a template parameter: one entry point per
// rule, no branch on the mode in the loop (measured: the runtime-mode version spent ~225 more instructions per block
// and warp on decisions than dense did). A skipped tile's exps are not taken and its P registers are zeroed; a 64-key
// half of the block whose tiles are all skipped gets no PV k-steps (three straight-line PV paths: both halves, the
// first, the second); a block with every tile skipped no PV at all.
template <int MODE, int BC>
__device__ void attention_ws(const TensorMap& mq, const TensorMap& mk, const TensorMap& mv, const fa90::Fa90Params& p) {
    static_assert(BC == 32 || BC == 64, "tiles of 32 or 64 keys");
    static_assert(MODE >= 0 && MODE <= 3, "dense, blasst, dynsparse, recall bound=max");
    constexpr int NSUB = MODE != 0 ? BN / BC : 1;   // policy tiles per block
    constexpr int TK = MODE != 0 ? BC : BN;          // keys per tile as the loop sees it (dense: the whole block)
    constexpr int SUBN = TK / 8;                      // 8-column groups of S per tile
    extern __shared__ char smem_ws[];
    __shared__ uint64_t bars[9];   // the Ring's barriers
    const uint32_t base = ((uint32_t)__cvta_generic_to_shared(smem_ws) + 1023u) & ~1023u;
    const uint32_t sQ = base, sK = base + Q_BYTES, sV = sK + 2 * KV_STAGE_BYTES;
    const Ring ring{(uint32_t)__cvta_generic_to_shared(&bars[0])};

    const int L = p.seq_len, LK = p.kv_len, H = p.heads;   // query rows; keys (= L but in cross-attention)
    const int nq = (L + 127) / 128, nb = (LK + BN - 1) / BN;
    const int nk = (LK + BC - 1) / BC, nq64 = (L + 63) / 64;   // keep flags and counters per policy tile
    const int qt = blockIdx.x % nq, bh = blockIdx.x / nq;
    const int b = bh / H, h = bh % H;
    // The warpgroup index read from lane 0 (CUTLASS's canonical_warp_group_idx): ptxas then knows it is warp-uniform and
    // keeps the shared-memory addresses and wgmma descriptors derived from it in uniform registers.
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x / 128), 0), tid = threadIdx.x % 128;

    if (threadIdx.x == 0) {
        ring.init();
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        if (tid == 0) {
            bar_expect(ring.fullQ(), Q_BYTES);
            for (int half = 0; half < 2; half++) {
                for (int panel = 0; panel < 2; panel++) {
                    tma_4d(sQ + (half * 2 + panel) * 8192, mq, panel * 64, h, qt * 128 + half * 64, b, ring.fullQ());
                }
            }
            for (int j = 0; j < nb; j++) {
                const int s = j & 1;
                if (j >= 2) bar_wait(ring.emptyK(s), ((j >> 1) + 1) & 1);
                bar_expect(ring.fullK(s), KV_STAGE_BYTES);
                for (int panel = 0; panel < 2; panel++) {
                    tma_4d(sK + s * KV_STAGE_BYTES + panel * (BN * 128), mk, panel * 64, h, j * BN, b, ring.fullK(s));
                }
                if (j >= 2) bar_wait(ring.emptyV(s), ((j >> 1) + 1) & 1);
                bar_expect(ring.fullV(s), KV_STAGE_BYTES);
                for (int panel = 0; panel < 2; panel++) {
                    tma_3d(sV + s * KV_STAGE_BYTES + panel * (D * 128), mv, j * BN + panel * 64, 0, bh, ring.fullV(s));
                }
            }
            ring.drain(nb);
        }
        return;
    }

    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int half = wg - 1;
    const int qt64 = qt * 2 + half, r0 = qt64 * 64, rows = max(0, min(64, L - r0));
    const int warp = tid >> 5, lane = tid & 31, t4 = lane & 3;
    const int lr0 = warp * 16 + (lane >> 2), lr1 = lr0 + 8;
    const bool valid0 = r0 + lr0 < L, valid1 = r0 + lr1 < L;
    const bool writer = tid == 0 && rows > 0;   // an absent second half (rows = 0) computes on zeros, writes nothing
    const float scale = p.scale, sl2e = scale * 1.4426950408889634f, thr = p.threshold;
    const float ethr = MODE == 2 ? expf(thr) : 0.f;   // dynsparse: e^λ
    const uint32_t myQ = sQ + half * 2 * 8192;
    unsigned int* keep = p.keep == nullptr || rows == 0 ? nullptr : p.keep + ((long long)bh * nq64 + qt64) * nk;

    // m: the reference maximum of each row (the largest score seen, kept or not); l and skipped relative to it;
    // mrun: the largest score of the kept tiles (blasst's rule).
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, skipped[2] = {0.f, 0.f}, mrun[2] = {-INFINITY, -INFINITY};
    float o[64];
    #pragma unroll
    for (int i = 0; i < 64; i++) o[i] = 0.f;
    float s[64];
    uint32_t pa[8][4];
    long long wg_skipped = 0, wg_skipped_cols = 0;

    bar_wait(ring.fullQ(), 0);
    int pv_prev = 0;   // PV owed for block j − 1: 0 none, 1 keys 0-63, 2 keys 64-127, 3 all
    for (int j = 0; j <= nb; j++) {
        // PV of block j − 1 and S = Q·K_jᵀ issued as one wgmma group, one wait per block. The variants are separate
        // straight-line sequences (a branch inside one makes ptxas serialize every wgmma). Measured: making the two
        // consumers take turns at this point (FlashAttention-3's ping-pong, named barriers) gained nothing on an H100
        // (docs/BENCHMARKS.md): the two consumers already interleave their tensor-core work on their own.
        const bool qk = j < nb;
        const int st = j & 1, par = (j >> 1) & 1, pst = (j + 1) & 1, ppar = ((j - 1) >> 1) & 1;
        const uint32_t kbuf = sK + st * KV_STAGE_BYTES, pvbuf = sV + pst * KV_STAGE_BYTES;
        if (qk) bar_wait(ring.fullK(st), par);
        if (j > 0) bar_wait(ring.fullV(pst), ppar);   // waited for even when no PV reads it: the phases stay in step
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        if (pv_prev == 3) {
            issue_pv<0, 8>(o, pa, pvbuf);
        } else if (pv_prev == 1) {
            issue_pv<0, 4>(o, pa, pvbuf);
        } else if (pv_prev == 2) {
            issue_pv<4, 8>(o, pa, pvbuf);
        }
        if (qk) {
            #pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                // Q: panel kk/4 of this half (64 rows × 128 B); K: panel kk/4 (128 rows × 128 B); 32 B per k-step
                uint32_t qoff = (kk >> 2) * 8192 + (kk & 3) * 32, koff = (kk >> 2) * (BN * 128) + (kk & 3) * 32;
                wgmma_ss_n128(s, fa90::desc128(myQ + qoff), fa90::desc128(kbuf + koff), kk == 0 ? 0 : 1);
            }
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        fa90::fence_regs<64>(o);
        fa90::fence_regs<64>(s);
        if (qk) bar_arrive(ring.emptyK(st));      // this thread's warp is done reading K of block j
        if (j > 0) bar_arrive(ring.emptyV(pst));  // and Vᵀ of block j − 1
        pv_prev = 0;
        if (!qk) break;

        const int kb0 = j * BN;
        mask_past_end<16>(s, kb0, LK, t4);
        // Row maxima: per tile (the rules need them) and over the block. Every exp of the block is taken against
        // the block's new maximum M = max(m, all tiles' maxima), so P needs no rescale when a later tile moves the
        // maximum, and the state (m, l, skipped) is kept relative to M: the rules read it through quantities that do
        // not depend on that reference (the log-sum-exp; skipped mass over kept mass), except blasst, which compares
        // against the running maximum of the kept tiles, tracked apart (mrun).
        float tm[NSUB][2], bm[2];
        tile_maxima<NSUB, SUBN>(s, m, tm, bm);
        float alpha[2], msc[2];
        move_max<MODE>(m, l, skipped, bm, sl2e, alpha, msc);
        // O follows the reference M even when no tile of the block is kept (recall may skip a tile above the max).
        rescale_o(o, alpha);
        // Policy tiles of this block: all NSUB except in a last, partial block (uniform).
        const int ntiles = kb0 + BN <= LK ? NSUB : (LK - kb0 + TK - 1) / TK;
        unsigned kept = 0;   // bit sub: tile sub kept (warpgroup-uniform)
        float rs[2] = {0.f, 0.f};   // this thread's part of the kept tiles' sums not yet in l
        #pragma unroll
        for (int sub = 0; sub < NSUB; sub++) {
            if (sub >= ntiles) {   // past the last key (uniform): P = 0 for the half's PV
                zero_ksteps<TK / 16>(pa, sub * TK / 16);
                continue;
            }
            bool skip = false;
            if constexpr (MODE != 0) {
                const int c0 = kb0 + sub * BC, cols = min(BC, LK - c0);
                bool agree[2];
                float bound[2] = {0.f, 0.f};
                #pragma unroll
                for (int r = 0; r < 2; r++) {
                    agree[r] = rule_agrees<MODE>(tm[sub][r], m[r], l[r], skipped[r], mrun[r], cols, scale, sl2e, thr, ethr, bound[r]);
                }
                skip = wg_skip(agree[0], agree[1], valid0, valid1, half);
                if (keep != nullptr && tid == 0) keep[j * NSUB + sub] = skip ? 0u : 1u;
                if (skip) {
                    if constexpr (MODE == 3) { skipped[0] += bound[0]; skipped[1] += bound[1]; }
                    wg_skipped++;
                    wg_skipped_cols += cols;
                    // P of this tile is 0 (its 64-key half may still get PV for another tile)
                    zero_ksteps<TK / 16>(pa, sub * TK / 16);
                    continue;
                }
                if constexpr (MODE == 1) {
                    mrun[0] = fmaxf(mrun[0], tm[sub][0]);
                    mrun[1] = fmaxf(mrun[1], tm[sub][1]);
                }
            }
            kept |= 1u << sub;
            float ps[2];
            exp_groups<SUBN>(s, sub * SUBN, sl2e, msc, ps);
            if (MODE >= 2 && sub + 1 < NSUB) {
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
            // P of this tile to bf16 (k-steps of 16 keys: 8-column groups 2kk and 2kk + 1)
            pack_ksteps<TK / 16>(s, pa, sub * TK / 16);
        }
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 1);
            rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 2);
            l[r] += rs[r];
        }
        // Which 64-key halves get PV: those with a kept tile (none if the block has none).
        if constexpr (MODE == 0) {
            pv_prev = 3;
        } else {
            const unsigned lomask = (1u << (NSUB / 2)) - 1u;
            pv_prev = (kept & lomask ? 1 : 0) | (kept & ~lomask ? 2 : 0);
        }
    }

    if (rows == 0) return;   // an absent second half of the last q-tile: it computed on zero rows, writes nothing
    store_rows(o, l, m, p, b, h, r0 + lr0, r0 + lr1, valid0, valid1, t4);
    if (MODE == 0 && keep != nullptr) {
        for (int jt = tid; jt < nk; jt += 128) keep[jt] = 1u;
    }
    if (writer) {
        atomicAdd(&p.stats[0], (unsigned long long)nk);
        if (MODE != 0) {
            atomicAdd(&p.stats[1], (unsigned long long)wg_skipped);
            atomicAdd(&p.stats[2], (unsigned long long)(2.0 * rows * D * (double)wg_skipped_cols));   // PV of skipped tiles
        }
    }
}

#endif

}  // namespace fa90ws

// Grid: B·H·ceil(L/128) CTAs of 384 threads, fa90ws::SMEM_BYTES of dynamic shared memory; D = 128.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FA90WS_BODY(MODE, BC) fa90ws::attention_ws<MODE, BC>(mq, mk, mv, p);
#else
#define FA90WS_BODY(MODE, BC) __trap();
#endif
// Dense (MODE 0) and the in-loop rules (1 blasst, 2 dynsparse, 3 recall bound=max), keep flags and counters per tile
// of 64 or 32 keys.
#define FA90WS_ENTRY(NAME, MODE, BC)                                                                                     \
    extern "C" __global__ void __launch_bounds__(384, 1) flash_attn_sm90ws_##NAME##_d128_bc##BC(                         \
            const __grid_constant__ fa90ws::TensorMap mq, const __grid_constant__ fa90ws::TensorMap mk,                  \
            const __grid_constant__ fa90ws::TensorMap mv, fa90::Fa90Params p) {                                          \
        FA90WS_BODY(MODE, BC)                                                                                            \
    }
FA90WS_ENTRY(dense, 0, 64)
FA90WS_ENTRY(dense, 0, 32)
FA90WS_ENTRY(blasst, 1, 64)
FA90WS_ENTRY(blasst, 1, 32)
FA90WS_ENTRY(dynsparse, 2, 64)
FA90WS_ENTRY(dynsparse, 2, 32)
FA90WS_ENTRY(recall, 3, 64)
FA90WS_ENTRY(recall, 3, 32)
#undef FA90WS_ENTRY
#undef FA90WS_BODY
