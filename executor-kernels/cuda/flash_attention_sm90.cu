// flash_attention_sm90.cu: the Hopper path of flash_attention.cu (sm_90a only): the same computation and
// the same in-loop decisions (see flash_attention.cu for the rule list), with warpgroup MMA.
// Java launcher: io.sparserender.engine.gpu.CudaAttention (Params90 mirrors Fa90Params).
//
// One CTA = one warpgroup (128 threads) = one q-tile of 64 rows (the reference's br). Keys are walked
// in blocks of 64: S = Q K_blockᵀ is one wgmma m64n64k16 chain (Q and K from shared memory, 128-byte
// swizzle as in gemm_bf16_sm90.cu, D/64 column panels), then the block's policy tiles (one of bc = 64,
// two of bc = 32) are decided in order, each on the running state left by the one before, exactly as
// the reference visits them; a kept tile updates m, l and its P; P of an earlier kept sub-tile of the
// block is rescaled when a later one moves the max. If a tile is kept, V for the block is loaded and
// O += P·V runs as wgmma m64nDk16 with P from registers; a skipped 32-key half of such a block gets
// P = 0 (its exp is not taken; the multiply adds exactly 0). If no tile of the block is kept, neither
// V load nor PV happens. V is read as Vᵀ ([B, H, D, Lp], Lp = L rounded up to 8, zero-padded),
// written by flash_attn_transpose_v before the launch, so both wgmma B operands are K-major.
// Pipelining: S of the next block is issued (wgmma, async) before this block's decisions and exps,
// so the tensor cores run it under the softmax; K is double-buffered and loaded two blocks ahead of
// its use (issued after this block's V, which is issued at the first kept tile's decision, before
// the exps); 2 CTAs per SM (250-255 registers at D = 128, no spills).
// Measured alternatives (H200, dense TFLOP/s at the two Wan shapes, docs/BENCHMARKS.md): no S
// pipelining, 3 CTAs per SM: 237-244; 2 CTAs: 233-240; S pipelining with V issued after the exps:
// 292-307; V issued at the decision (this code): 334-339; K_{j+2} issued at the top of block j, right
// after S_{j+1} (the V wait then waits for it too): 284-311, rejected. Leaving the skipped half's PV
// k-steps out instead of P = 0: ptxas serializes all wgmma (C7520), bc = 32 1.6x slower than bc = 64.
// PV-overlapped entry points (flash_attn_sm90pv_*, OVL = true, "wg1-pv"): a block's PV is issued at the top of the
// next iteration beside that block's S, so both run under the next block's softmax (FA3's intra-warpgroup
// overlap), with Vᵀ double-buffered; every wgmma group is retired by the end of each iteration (one left in flight
// across the back edge made ptxas serialize all wgmma, C7514). Measured 13 % slower than the code above on an H100
// (docs/BENCHMARKS.md): the SM's second CTA already hid the PV wait; this lengthens each iteration's critical path.
// Lean entry points (flash_attn_sm90lean_*, LEAN = true, "wg1-lean", the default): the code above with S written by
// its first k-step (wgmma scale-d = 0) instead of zeroed first, and O's rescale skipped by a warp whose rows all kept
// their maxima (__all_sync); measured 1-2 % faster than wg1 on an H100 (docs/BENCHMARKS.md).
// Built for every target (one translation unit); the bodies exist only for sm_90a: elsewhere they trap
// and the host launches them only on compute 9.0.
//
// Listed entry points (flash_attn_sm90_list_*, Fa90ListParams): the q-tile walks a list of kv-tiles
// (attention_plan.cu; null list = natural order, null count = all tiles; see flash_attention.cu) and a
// "block" is NSUB consecutive list entries rather than 64 consecutive keys: at bc = 64 one listed tile,
// at bc = 32 two listed tiles of 32 keys, wherever they lie, gathered into the 64 rows of the K buffer
// and the 64 columns of the Vᵀ buffer (16-byte cp.async chunks, so any 32-key tile start works).
// Decided in list order as the reference visits them; a missing second entry (odd count) is absent:
// its rows are zero-filled and its P set to 0. Columns ≥ L are masked per listed tile. Also runs the
// recall bounds exact and binned (flash_attention.cu's helpers). LISTED = false compiles to the code
// above, unchanged.
#include <stdint.h>
#include <cuda_bf16.h>
#include "attention_bounds.cuh"
#include "flash_attention_sm90.cuh"

namespace fa90 {


// A list entry past the count: rows and columns from here on are ≥ L, so they are zero-filled.
constexpr int ABSENT = 1 << 30;

struct TransposeParams {
    const __nv_bfloat16* v;      // [B, L, H, D]
    __nv_bfloat16* vt;           // [B, H, D, vt_stride]; columns L .. vt_stride-1 written as 0
    int batch;
    int seq_len;
    int heads;
    int head_dim;
    int vt_stride;
};

}  // namespace fa90

// Vᵀ for the sm90 path. Grid: B*H*ceil(vt_stride/32) blocks of 256 threads; any D ≤ 128 (multiple of 8).
extern "C" __global__ void __launch_bounds__(256) flash_attn_transpose_v(fa90::TransposeParams p) {
    __shared__ __nv_bfloat16 tile[32][128 + 2];
    const int tiles = (p.vt_stride + 31) / 32;
    const int bh = blockIdx.x / tiles, l0 = (blockIdx.x % tiles) * 32;
    const int b = bh / p.heads, h = bh % p.heads, D = p.head_dim;
    for (int i = threadIdx.x; i < 32 * D; i += 256) {
        int r = i / D, d = i % D, l = l0 + r;
        tile[r][d] = l < p.seq_len ? p.v[(((long long)b * p.seq_len + l) * p.heads + h) * D + d] : __float2bfloat16(0.f);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < 32 * D; i += 256) {
        int d = i / 32, r = i % 32, l = l0 + r;
        if (l < p.vt_stride) p.vt[((long long)bh * D + d) * p.vt_stride + l] = tile[r][d];
    }
}

namespace fa90 {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// Listed: 64 K rows from two 32-row tiles starting at keys s0 and s1 (BC = 32) or one 64-row tile at
// s0 (BC = 64), into the same panel layout as load_rows64; rows ≥ nrows zero-filled.
template <int D, int BC>
__device__ __forceinline__ void load_rows_listed(uint32_t smem, const __nv_bfloat16* g, long long row_stride, int s0, int s1,
                                                 int nrows) {
    constexpr int CH = D / 8;
    #pragma unroll
    for (int i = 0; i < 64 * CH / THREADS; i++) {
        int idx = threadIdx.x + i * THREADS;
        int r = idx / CH, c = idx % CH;
        int gr = BC == 64 ? s0 + r : (r < 32 ? s0 + r : s1 + r - 32);
        bool ok = gr < nrows;
        cp16(smem + (c >> 3) * (64 * 128) + swz128(r, c & 7), g + (long long)(ok ? gr : 0) * row_stride + c * 8, ok ? 16 : 0);
    }
}

// Listed Vᵀ block: columns 0-31 from key s0 and 32-63 from key s1 (BC = 32), or 0-63 from s0 (BC = 64).
template <int D, int BC>
__device__ __forceinline__ void load_vt_listed(uint32_t smem, const __nv_bfloat16* g, int stride, int s0, int s1) {
    #pragma unroll
    for (int i = 0; i < D * 8 / THREADS; i++) {
        int idx = threadIdx.x + i * THREADS;
        int r = idx >> 3, c = idx & 7;
        int l = BC == 64 ? s0 + c * 8 : (c < 4 ? s0 + c * 8 : s1 + (c - 4) * 8);
        bool ok = l < stride;
        cp16(smem + swz128(r, c), g + (long long)r * stride + (ok ? l : 0), ok ? 16 : 0);
    }
}

template <int D, int BC, bool LISTED, bool OVL = false, bool LEAN = false>
__device__ __forceinline__ void attention90(const Fa90Params& p, const int* list, const int* count, long long list_bh_stride) {
    constexpr int NSUB = 64 / BC;          // policy kv-tiles per 64-key block
    constexpr int SUBN = BC / 8;           // 8-column accumulator groups per policy tile
    constexpr int PANEL = 64 * 128;        // bytes of one 64 x 64 panel
    constexpr int Q_BYTES = 64 * D * 2, K_BYTES = 64 * D * 2;
    extern __shared__ char smem_raw90[];
    const uint32_t base = ((uint32_t)__cvta_generic_to_shared(smem_raw90) + 1023u) & ~1023u;
    constexpr int V_BYTES = 64 * D * 2;
    static_assert(!(OVL && LISTED), "the PV-overlapped variant is unlisted only");
    static_assert(!(LEAN && (LISTED || OVL)), "the lean variant is wg1's unlisted kernel only");
    const uint32_t sQ = base, sK = base + Q_BYTES, sVt0 = sK + 2 * K_BYTES;

    const int L = p.seq_len, H = p.heads;
    const int nq = (L + 63) / 64, nk = (L + BC - 1) / BC;
    const int qt = blockIdx.x % nq, bh = blockIdx.x / nq;
    // Listed: nvis entries of lst (null: 0 .. nk−1), NSUB per block; unlisted: blocks of 64 keys.
    int nvis = nk;
    const int* lst = nullptr;
    if constexpr (LISTED) {
        if (count != nullptr) nvis = count[(long long)bh * nq + qt];
        if (list != nullptr) lst = list + (long long)bh * list_bh_stride + (long long)qt * nk;
        if (p.keep != nullptr) {
            for (int j = threadIdx.x; j < nk; j += THREADS) p.keep[((long long)bh * nq + qt) * nk + j] = 2u;
        }
    }
    const int nb = LISTED ? (nvis + NSUB - 1) / NSUB : (L + 63) / 64;
    // Key start of list entry pos (ABSENT past the count).
    auto seg = [&](int pos) { return pos < nvis ? (lst != nullptr ? __ldg(lst + pos) : pos) * BC : ABSENT; };
    const int b = bh / H, h = bh % H;
    const long long row_stride = (long long)H * D;
    const long long head0 = ((long long)b * L * H + h) * D;
    const __nv_bfloat16* q = p.q + head0;
    const __nv_bfloat16* k = p.k + head0;
    const __nv_bfloat16* vt = p.vt + (long long)bh * D * p.vt_stride;
    const int r0 = qt * 64, rows = min(64, L - r0);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, t4 = lane & 3;
    const int lr0 = warp * 16 + (lane >> 2), lr1 = lr0 + 8;
    const bool valid0 = r0 + lr0 < L, valid1 = r0 + lr1 < L;
    const int mode = p.mode;
    const float scale = p.scale, sl2e = scale * 1.4426950408889634f, thr = p.threshold;

    load_rows64<D>(sQ, q, row_stride, r0, L);
    // Listed: key starts of the current block's entries (c0, c1) and of the next block's (n0, n1).
    int c0s = 0, c1s = 0, n0s = 0, n1s = 0;
    if constexpr (LISTED) {
        c0s = seg(0);
        c1s = NSUB == 2 ? seg(1) : ABSENT;
        n0s = seg(NSUB);
        n1s = NSUB == 2 ? seg(NSUB + 1) : ABSENT;
        load_rows_listed<D, BC>(sK, k, row_stride, c0s, c1s, L);
    } else {
        load_rows64<D>(sK, k, row_stride, 0, L);
    }
    asm volatile("cp.async.commit_group;\n" ::);

    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, skipped[2] = {0.f, 0.f};
    float o[D / 2];
    #pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0.f;
    long long cta_skipped = 0;
    double cta_saved = 0;
    long long visited_cols = 0;

    // Prologue: S_0 = Q K_0ᵀ, K_1 in flight.
    float s[32];
    uint32_t pa[4][4];   // P of the last kept block in bf16 (OVL: read by its PV wgmma until the next iteration's wait)
    asm volatile("cp.async.wait_group 0;\n" ::);
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();
    if constexpr (!LEAN) {
        #pragma unroll
        for (int i = 0; i < 32; i++) s[i] = 0.f;
    }
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
    #pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        uint32_t off = (kk >> 2) * PANEL + (kk & 3) * 32;
        wgmma_ss_n64(s, desc128(sQ + off), desc128(sK + off), LEAN && kk == 0 ? 0 : 1);
    }
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    if constexpr (LISTED) {
        if (nb > 1) load_rows_listed<D, BC>(sK + K_BYTES, k, row_stride, n0s, n1s, L);
    } else {
        if (nb > 1) load_rows64<D>(sK + K_BYTES, k, row_stride, 64, L);
    }
    asm volatile("cp.async.commit_group;\n" ::);
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");

    // OVL: whether PV of the previous block is owed (its P in pa, its Vᵀ in the other buffer); issued at the
    // top of the next iteration beside S_{jb+1}, so both run on the tensor cores under this block's softmax.
    bool pv_owed = false;
    auto issue_pv = [&](uint32_t vbuf) {
        #pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            if constexpr (D == 128) {
                wgmma_rs_n128(o, pa[kk], desc128(vbuf + kk * 32));
            } else {
                wgmma_rs_n64(o, pa[kk], desc128(vbuf + kk * 32));
            }
        }
    };

    for (int jb = 0; jb < nb; jb++) {
        // s holds S_jb. Issue S_{jb+1} now so the tensor cores run it while this block's decisions and
        // exps run (on the last block it reads a stale buffer and its result is dropped: no branch
        // around a wgmma, which ptxas would serialize).
        asm volatile("cp.async.wait_group 0;\n" ::);
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads();
        float sn[32];
        if constexpr (!LEAN) {   // LEAN: the first k-step overwrites instead of accumulating
            #pragma unroll
            for (int i = 0; i < 32; i++) sn[i] = 0.f;
        }
        {
            const uint32_t bufN = sK + ((jb + 1) & 1) * K_BYTES;
            auto issue_s = [&]() {
                #pragma unroll
                for (int kk = 0; kk < D / 16; kk++) {
                    uint32_t off = (kk >> 2) * PANEL + (kk & 3) * 32;
                    wgmma_ss_n64(sn, desc128(sQ + off), desc128(bufN + off), LEAN && kk == 0 ? 0 : 1);
                }
            };
            // Two straight-line paths (a branch around part of a wgmma sequence makes ptxas serialize, C7520).
            if (OVL && pv_owed) {
                asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
                issue_s();
                issue_pv(sVt0 + ((jb - 1) & 1) * V_BYTES);   // its Vᵀ arrived with the wait above
                asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            } else {
                asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
                issue_s();
                asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            }
        }

        const int kb0 = jb * 64;
        // This block's Vᵀ buffer: one buffer, or (OVL) two, as PV of the previous block may still be reading the other.
        const uint32_t sVt = sVt0 + (OVL ? (jb & 1) * V_BYTES : 0);
        // Listed: key starts of block jb + 2 (its K is loaded below).
        int f0s = ABSENT, f1s = ABSENT;
        if constexpr (LISTED) {
            f0s = seg((jb + 2) * NSUB);
            if (NSUB == 2) f1s = seg((jb + 2) * NSUB + 1);
            #pragma unroll
            for (int j = 0; j < 8; j++) {
                int c = (j * 8 < BC ? c0s + j * 8 : c1s + j * 8 - BC) + 2 * t4;
                if (c >= L) { s[j * 4 + 0] = -INFINITY; s[j * 4 + 2] = -INFINITY; }
                if (c + 1 >= L) { s[j * 4 + 1] = -INFINITY; s[j * 4 + 3] = -INFINITY; }
            }
        } else if (kb0 + 64 > L) {
            #pragma unroll
            for (int j = 0; j < 8; j++) {
                int c = kb0 + j * 8 + 2 * t4;
                if (c >= L) { s[j * 4 + 0] = -INFINITY; s[j * 4 + 2] = -INFINITY; }
                if (c + 1 >= L) { s[j * 4 + 1] = -INFINITY; s[j * 4 + 3] = -INFINITY; }
            }
        }
        bool kept[NSUB];
        bool any = false;
        float atot[2] = {1.f, 1.f};
        #pragma unroll
        for (int sub = 0; sub < NSUB; sub++) {
            kept[sub] = false;
            int jt, c0;
            if constexpr (LISTED) {
                if (jb * NSUB + sub >= nvis) continue;   // past the list's end (uniform)
                c0 = sub == 0 ? c0s : c1s;
                jt = c0 / BC;
            } else {
                jt = jb * NSUB + sub;
                if (jt >= nk) continue;   // past the last policy tile (uniform)
                c0 = jt * BC;
            }
            const int cols = min(BC, L - c0);
            if constexpr (LISTED) visited_cols += cols;
            float tmax[2] = {-INFINITY, -INFINITY};
            #pragma unroll
            for (int j = sub * SUBN; j < (sub + 1) * SUBN; j++) {
                tmax[0] = fmaxf(tmax[0], fmaxf(s[j * 4 + 0], s[j * 4 + 1]));
                tmax[1] = fmaxf(tmax[1], fmaxf(s[j * 4 + 2], s[j * 4 + 3]));
            }
            #pragma unroll
            for (int r = 0; r < 2; r++) {
                tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 1));
                tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 2));
            }
            bool skip = false;
            float bound[2] = {0.f, 0.f};
            if (mode != 0) {
                bool agree[2];
                #pragma unroll
                for (int r = 0; r < 2; r++) {
                    float tn = tmax[r] * scale, mn = m[r] * scale;
                    if (mode == 1) {
                        agree[r] = tn - mn < thr;
                    } else if (mode == 2) {
                        agree[r] = l[r] > 0.f && tn - (mn + logf(l[r])) < thr;
                    } else {
                        if constexpr (LISTED) {
                            if (mode == 4) {          // recall, bound=exact
                                float sum = 0.f;
                                const float msc = m[r] * sl2e;
                                #pragma unroll
                                for (int j = sub * SUBN; j < (sub + 1) * SUBN; j++) {
                                    sum += exp2f(fmaf(s[j * 4 + 2 * r], sl2e, -msc)) + exp2f(fmaf(s[j * 4 + 2 * r + 1], sl2e, -msc));
                                }
                                sum += __shfl_xor_sync(0xffffffffu, sum, 1);
                                sum += __shfl_xor_sync(0xffffffffu, sum, 2);
                                bound[r] = sum;
                            } else if (mode == 5) {   // recall, bound=binned
                                unsigned long long cnt = 0ull;
                                #pragma unroll
                                for (int j = sub * SUBN; j < (sub + 1) * SUBN; j++) {
                                    cnt += attn::bin_one(s[j * 4 + 2 * r], tmax[r], scale) + attn::bin_one(s[j * 4 + 2 * r + 1], tmax[r], scale);
                                }
                                bound[r] = attn::binned_sum(cnt, tn, mn);
                            } else {
                                bound[r] = (float)cols * expf(tn - mn);
                            }
                        } else {
                            bound[r] = (float)cols * expf(tn - mn);
                        }
                        agree[r] = l[r] > 0.f && skipped[r] + bound[r] <= thr * l[r];
                    }
                }
                skip = __syncthreads_and((agree[0] || !valid0) && (agree[1] || !valid1)) != 0;
            }
            if (p.keep != nullptr && threadIdx.x == 0) p.keep[((long long)bh * nq + qt) * nk + jt] = skip ? 0u : 1u;
            if (skip) {
                if (LISTED ? mode >= 3 : mode == 3) { skipped[0] += bound[0]; skipped[1] += bound[1]; }
                cta_skipped++;
                cta_saved += 2.0 * rows * cols * D;
                continue;
            }
            kept[sub] = true;
            if (!any) {
                // The block's V as soon as one of its tiles is kept: the load runs under the exps.
                if constexpr (LISTED) {
                    load_vt_listed<D, BC>(sVt, vt, p.vt_stride, c0s, c1s);
                } else {
                    load_vt<D>(sVt, vt, p.vt_stride, kb0);
                }
                asm volatile("cp.async.commit_group;\n" ::);
            }
            any = true;
            float alpha[2], msc[2];
            #pragma unroll
            for (int r = 0; r < 2; r++) {
                float mnew = fmaxf(m[r], tmax[r]);
                alpha[r] = m[r] == -INFINITY ? 0.f : ex2_ftz((m[r] - mnew) * sl2e);
                m[r] = mnew;
                msc[r] = mnew * sl2e;
            }
            float rs[2] = {0.f, 0.f};
            #pragma unroll
            for (int j = sub * SUBN; j < (sub + 1) * SUBN; j++) {
                s[j * 4 + 0] = ex2_ftz(fmaf(s[j * 4 + 0], sl2e, -msc[0]));
                s[j * 4 + 1] = ex2_ftz(fmaf(s[j * 4 + 1], sl2e, -msc[0]));
                s[j * 4 + 2] = ex2_ftz(fmaf(s[j * 4 + 2], sl2e, -msc[1]));
                s[j * 4 + 3] = ex2_ftz(fmaf(s[j * 4 + 3], sl2e, -msc[1]));
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
        // K_{jb+2} goes into this block's K buffer: S_jb finished before this iteration began.
        if (!any) {
            if constexpr (LISTED) {
                if (jb + 2 < nb) load_rows_listed<D, BC>(sK + (jb & 1) * K_BYTES, k, row_stride, f0s, f1s, L);
                c0s = n0s; c1s = n1s; n0s = f0s; n1s = f1s;
            } else {
                if (jb + 2 < nb) load_rows64<D>(sK + (jb & 1) * K_BYTES, k, row_stride, kb0 + 128, L);
            }
            asm volatile("cp.async.commit_group;\n" ::);
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
            if constexpr (OVL) {
                fence_regs<D / 2>(o);
                pv_owed = false;
            }
            fence_regs<32>(sn);
            #pragma unroll
            for (int i = 0; i < 32; i++) s[i] = sn[i];
            continue;
        }
        if constexpr (LISTED) {
            if (jb + 2 < nb) load_rows_listed<D, BC>(sK + (jb & 1) * K_BYTES, k, row_stride, f0s, f1s, L);
            c0s = n0s; c1s = n1s; n0s = f0s; n1s = f1s;
        } else {
            if (jb + 2 < nb) load_rows64<D>(sK + (jb & 1) * K_BYTES, k, row_stride, kb0 + 128, L);
        }
        asm volatile("cp.async.commit_group;\n" ::);
        if constexpr (OVL) {
            // S_{jb+1} and the previous block's PV (which reads pa and writes o) finish before O is rescaled.
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
            fence_regs<D / 2>(o);
            fence_regs<32>(sn);
        }
        // LEAN: a warp whose rows all kept their max (the usual case after the first blocks) skips the D/2 multiplies.
        if (!LEAN || !__all_sync(0xffffffffu, atot[0] == 1.f && atot[1] == 1.f)) {
            #pragma unroll
            for (int j = 0; j < D / 8; j++) {
                o[j * 4 + 0] *= atot[0]; o[j * 4 + 1] *= atot[0];
                o[j * 4 + 2] *= atot[1]; o[j * 4 + 3] *= atot[1];
            }
        }
        // A skipped 32-key half of a block whose other half is kept (bc = 32): its P is set to 0 and the
        // PV wgmma runs over the whole block (adds exactly 0). Leaving its k-steps out makes the wgmma
        // path divergent and ptxas serializes every wgmma of the kernel (C7520): 1.6x slower measured.
        #pragma unroll
        for (int sub = 0; sub < NSUB; sub++) {
            if (kept[sub]) continue;
            #pragma unroll
            for (int j = sub * SUBN; j < (sub + 1) * SUBN; j++) {
                s[j * 4 + 0] = 0.f; s[j * 4 + 1] = 0.f; s[j * 4 + 2] = 0.f; s[j * 4 + 3] = 0.f;
            }
        }
        #pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            pa[kk][0] = pack2(s[(2 * kk) * 4 + 0], s[(2 * kk) * 4 + 1]);
            pa[kk][1] = pack2(s[(2 * kk) * 4 + 2], s[(2 * kk) * 4 + 3]);
            pa[kk][2] = pack2(s[(2 * kk + 1) * 4 + 0], s[(2 * kk + 1) * 4 + 1]);
            pa[kk][3] = pack2(s[(2 * kk + 1) * 4 + 2], s[(2 * kk + 1) * 4 + 3]);
        }
        if constexpr (OVL) {
            pv_owed = true;   // PV of this block runs at the top of the next iteration (or after the loop)
        } else {
            asm volatile("cp.async.wait_group 1;\n" ::);
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncthreads();
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
            issue_pv(sVt);
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
            fence_regs<32>(sn);
        }
        #pragma unroll
        for (int i = 0; i < 32; i++) s[i] = sn[i];
    }
    asm volatile("cp.async.wait_group 0;\n" ::);
    if constexpr (OVL) {
        if (pv_owed) {
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncthreads();
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
            issue_pv(sVt0 + ((nb - 1) & 1) * V_BYTES);
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
            fence_regs<D / 2>(o);
        }
    }

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
    if constexpr (LISTED) cta_saved += 4.0 * rows * D * (double)(L - visited_cols);
    if (threadIdx.x == 0) {
        atomicAdd(&p.stats[0], (unsigned long long)nk);
        atomicAdd(&p.stats[1], (unsigned long long)cta_skipped);
        atomicAdd(&p.stats[2], (unsigned long long)cta_saved);
        if constexpr (LISTED) atomicAdd(&p.stats[3], (unsigned long long)(nk - nvis));
    }
}

#endif

}  // namespace fa90

// Grid: B*H*ceil(L/64) blocks (1D), 128 threads, (64 + 3*64)*D*2 + 1024 bytes of dynamic shared memory.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FA90_BODY(D, BC) fa90::attention90<D, BC, false>(p, nullptr, nullptr, 0);
#define FA90_OVL_BODY(D, BC) fa90::attention90<D, BC, false, true>(p, nullptr, nullptr, 0);
#define FA90_LEAN_BODY(D, BC) fa90::attention90<D, BC, false, false, true>(p, nullptr, nullptr, 0);
#define FA90_LIST_BODY(D, BC) fa90::attention90<D, BC, true>(p.base, p.list, p.count, p.list_bh_stride);
#else
#define FA90_BODY(D, BC) __trap();
#define FA90_OVL_BODY(D, BC) __trap();
#define FA90_LEAN_BODY(D, BC) __trap();
#define FA90_LIST_BODY(D, BC) __trap();
#endif
#define FA90_KERNEL(D, BC)                                                                                    \
    extern "C" __global__ void __launch_bounds__(fa90::THREADS, 2) flash_attn_sm90_d##D##_bc##BC(fa90::Fa90Params p) { \
        FA90_BODY(D, BC)                                                                                      \
    }                                                                                                         \
    extern "C" __global__ void __launch_bounds__(fa90::THREADS, 2) flash_attn_sm90_list_d##D##_bc##BC(fa90::Fa90ListParams p) { \
        FA90_LIST_BODY(D, BC)                                                                                 \
    }                                                                                                         \
    extern "C" __global__ void __launch_bounds__(fa90::THREADS, 2) flash_attn_sm90pv_d##D##_bc##BC(fa90::Fa90Params p) { \
        FA90_OVL_BODY(D, BC)                                                                                  \
    }                                                                                                         \
    extern "C" __global__ void __launch_bounds__(fa90::THREADS, 2) flash_attn_sm90lean_d##D##_bc##BC(fa90::Fa90Params p) { \
        FA90_LEAN_BODY(D, BC)                                                                                 \
    }
FA90_KERNEL(64, 64)
FA90_KERNEL(128, 64)
FA90_KERNEL(64, 32)
FA90_KERNEL(128, 32)
#undef FA90_KERNEL
#undef FA90_BODY
#undef FA90_OVL_BODY
#undef FA90_LEAN_BODY
#undef FA90_LIST_BODY
