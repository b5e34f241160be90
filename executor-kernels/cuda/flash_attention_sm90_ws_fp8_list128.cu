// flash_attention_sm90_ws_fp8_list128.cu: the listed policies without an in-loop rule (topk, topp, hybrid at pre = 1,
// the orders) at br = 128, bc = 64, D = 128 on 8-bit operands: flash_attention_sm90_ws_list128.cu's structure (one list
// per 128-row q-tile, both consumers sharing every pair of listed 64-key tiles) with flash_attention_sm90_ws_fp8.cu's
// arithmetic (INT8 Q and K, E4M3 Vᵀ and P, the QKᵀ accumulator offset by 1.5·2²³'s bits). Java twin:
// io.sparserender.engine.attention.Fp8Attention.forwardListed.
//
// What differs from the dense 8-bit kernel: a pair's two tiles may come from different 128-key blocks, so each 64-key
// half of S has its own K scale (its own row factor f and exponent offset); Vᵀ tiles are 64 keys wide, 64-byte rows, so
// they are loaded with the 64-byte swizzle and read through descriptors of that layout (8-row atoms 512 bytes apart).
// Keep flags and counters as flash_attention_sm90_ws_list128.cu's dense entry point.
// STATUS: written and compiled (no spills, no serialization warnings); not yet run on a device.
#include <stdint.h>
#include <cuda_bf16.h>
#include "flash_attention_sm90.cuh"
#include "flash_attention_sm90_ws.cuh"
#include "flash_attention_sm90_ws_fp8.cuh"

namespace fa90ws8l {

using fa90ws::TensorMap;
constexpr int D = 128;
constexpr int BC = 64;                           // keys per listed tile
constexpr int TILE_BYTES = BC * D;               // 8 KiB: one tile's K (64 rows × 128 B) or Vᵀ (128 d-rows × 64 B)
constexpr int STAGE_BYTES = 2 * TILE_BYTES;      // a pair
constexpr int Q_BYTES = 128 * D;                 // 16 KiB
constexpr int SMEM_BYTES = Q_BYTES + 4 * STAGE_BYTES + 1024;   // Java: CudaFp8Attention.LIST_SMEM_BYTES
static_assert(SMEM_BYTES <= 227 * 1024, "one CTA per SM");

// Java: CudaFp8Attention.ListParams, field for field.
struct ListParams {
    const float* qs;             // [B, H, L]
    const float* ks;             // [B, H, ceil(L/128)]
    const float* vs;             // [B, H, 128]
    void* out;                   // [B, L, H, 128] bf16 where out_bf16, else float32
    float* lse;                  // [B, H, L] or null
    unsigned int* keep;          // [B, H, ceil(L/128), ceil(L/64)] or null
    unsigned long long* stats;   // tiles, skipped in the loop (0), FLOPs saved, tiles off the list
    int batch;
    int seq_len;
    int heads;
    float scale;
    int out_bf16;
    const int* list;             // entry bh·list_bh_stride + qt·nk + i, or null (natural order)
    const int* count;            // [B·H, ceil(L/128)], or null (every tile)
    long long list_bh_stride;
};

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

using fa90ws8::MAGIC_F;

// Descriptor of a K-major operand with 64-byte rows and the 64-byte swizzle: 8-row atoms 512 bytes apart.
__device__ __forceinline__ uint64_t desc64(uint32_t addr) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(512 >> 4) << 32) | ((uint64_t)2 << 62);
}

// O += P·V over the tiles present (bit t of which: tile t), two k-steps of 32 keys per tile.
template <int WHICH>
__device__ __forceinline__ void issue_pv(float* o, uint32_t (*pa)[4], uint32_t v) {
    #pragma unroll
    for (int kk = 0; kk < 4; kk++) {
        if ((WHICH >> (kk >> 1)) & 1) fa90ws8::wgmma_rs_e4m3(o, pa[kk], desc64(v + (kk >> 1) * TILE_BYTES + (kk & 1) * 32));
    }
}

__device__ void attention_ws_fp8_list128(const TensorMap& mq, const TensorMap& mk, const TensorMap& mv, const ListParams& p) {
    using namespace fa90ws;
    extern __shared__ char smem_ws8l[];
    __shared__ uint64_t bars[9];   // the Ring's barriers
    const uint32_t base = ((uint32_t)__cvta_generic_to_shared(smem_ws8l) + 1023u) & ~1023u;
    const uint32_t sQ = base, sK = base + Q_BYTES, sV = sK + 2 * STAGE_BYTES;
    const Ring ring{(uint32_t)__cvta_generic_to_shared(&bars[0])};

    const int L = p.seq_len, H = p.heads;
    const int nq = (L + 127) / 128, nk = (L + BC - 1) / BC, nb = (L + 127) / 128;
    const int qt = blockIdx.x % nq, bh = blockIdx.x / nq;
    const int b = bh / H, h = bh % H;
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x / 128), 0), tid = threadIdx.x % 128;

    if (threadIdx.x == 0) {
        ring.init();
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    int nvis = nk;
    const int* lst = nullptr;
    if (p.count != nullptr) nvis = p.count[(long long)bh * nq + qt];
    if (p.list != nullptr) lst = p.list + (long long)bh * p.list_bh_stride + (long long)qt * nk;
    auto entry = [&](int e) { return lst != nullptr ? __ldg(lst + e) : e; };
    const int npairs = (nvis + 1) / 2;

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        if (tid == 0) {
            bar_expect(ring.fullQ(), Q_BYTES);
            for (int half = 0; half < 2; half++) tma_4d(sQ + half * 8192, mq, 0, h, qt * 128 + half * 64, b, ring.fullQ());
            for (int e = 0; e < npairs; e++) {
                const int s = e & 1, n = min(2, nvis - 2 * e);
                if (e >= 2) bar_wait(ring.emptyK(s), ((e >> 1) + 1) & 1);
                bar_expect(ring.fullK(s), n * TILE_BYTES);
                for (int t = 0; t < n; t++) tma_4d(sK + s * STAGE_BYTES + t * TILE_BYTES, mk, 0, h, entry(2 * e + t) * BC, b, ring.fullK(s));
                if (e >= 2) bar_wait(ring.emptyV(s), ((e >> 1) + 1) & 1);
                bar_expect(ring.fullV(s), n * TILE_BYTES);
                for (int t = 0; t < n; t++) tma_3d(sV + s * STAGE_BYTES + t * TILE_BYTES, mv, entry(2 * e + t) * BC, 0, bh, ring.fullV(s));
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
    const float sl2e = p.scale * 1.4426950408889634f;
    const float* qs = p.qs + (long long)bh * L;
    const float qf[2] = {valid0 ? qs[r0 + lr0] * sl2e : 0.f, valid1 ? qs[r0 + lr1] * sl2e : 0.f};
    const float* ks = p.ks + (long long)bh * nb;
    const uint32_t myQ = sQ + half * 8192;
    unsigned int* keep = p.keep == nullptr || half != 0 ? nullptr : p.keep + ((long long)bh * nq + qt) * nk;
    if (keep != nullptr) {
        for (int j = tid; j < nk; j += 128) keep[j] = 2u;
        asm volatile("bar.sync 3, 128;\n" ::: "memory");
    }

    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    float o[64];
    #pragma unroll
    for (int i = 0; i < 64; i++) o[i] = 0.f;
    int si[64];
    uint32_t pa[4][4];
    int visited_cols = 0;

    bar_wait(ring.fullQ(), 0);
    int pv_prev = 0;   // PV owed for pair e − 1: bit t, tile t present
    for (int e = 0; e <= np; e++) {
        const bool qk = e < np;
        const int st = e & 1, par = (e >> 1) & 1, pst = (e + 1) & 1, ppar = ((e - 1) >> 1) & 1;
        const uint32_t kbuf = sK + st * STAGE_BYTES, pvbuf = sV + pst * STAGE_BYTES;
        if (qk) bar_wait(ring.fullK(st), par);
        if (e > 0) bar_wait(ring.fullV(pst), ppar);
        if (qk) {
            fa90ws8::set_magic(si);
        }
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        if (pv_prev == 3) {
            issue_pv<3>(o, pa, pvbuf);
        } else if (pv_prev == 1) {
            issue_pv<1>(o, pa, pvbuf);
        }
        if (qk) {
            #pragma unroll
            for (int kk = 0; kk < 4; kk++) fa90ws8::wgmma_ss_s8(si, fa90::desc128(myQ + kk * 32), fa90::desc128(kbuf + kk * 32), 1);
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        fa90::fence_regs<64>(o);
        fa90ws8::fence_ints(si);
        if (qk) bar_arrive(ring.emptyK(st));
        if (e > 0) bar_arrive(ring.emptyV(pst));
        pv_prev = 0;
        if (!qk) break;

        // The pair's tiles (1 or 2, CTA-uniform); an absent second tile is masked whole.
        const int ntiles = min(2, nvis - 2 * e);
        int jt[2], kb[2];
        jt[0] = entry(2 * e);
        jt[1] = ntiles == 2 ? entry(2 * e + 1) : 0;
        kb[0] = jt[0] * BC;
        kb[1] = ntiles == 2 ? jt[1] * BC : L;
        float* s = reinterpret_cast<float*>(si);
        mask_past_end<8>(s, kb[0], L, t4);
        mask_past_end<8>(s + 32, kb[1], L, t4);
        float tm[2][2], bm[2];
        const float none[2] = {-INFINITY, -INFINITY};
        tile_maxima<2, 8>(s, none, tm, bm);
        // Each tile's row factors (its 128-key block's K scale) and the rows' new maximum in log2 units.
        float f[2][2], mn[2], alpha[2];
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            mn[r] = m[r];
            #pragma unroll
            for (int t = 0; t < 2; t++) {
                f[t][r] = qf[r] * ks[jt[t] * BC / 128];
                if (t < ntiles) mn[r] = fmaxf(mn[r], (tm[t][r] - MAGIC_F) * f[t][r]);
            }
            alpha[r] = m[r] == -INFINITY ? 0.f : fa90::ex2_ftz(m[r] - mn[r]);
            m[r] = mn[r];
            l[r] *= alpha[r];
        }
        rescale_o(o, alpha);
        float ps[2] = {0.f, 0.f};
        #pragma unroll
        for (int t = 0; t < 2; t++) {
            if (t >= ntiles) {
                pa[2][0] = pa[2][1] = pa[2][2] = pa[2][3] = 0u;
                pa[3][0] = pa[3][1] = pa[3][2] = pa[3][3] = 0u;
                continue;
            }
            float cst[2];
            #pragma unroll
            for (int r = 0; r < 2; r++) cst[r] = fmaf(MAGIC_F, f[t][r], m[r] - 8.f);
            #pragma unroll
            for (int g = 8 * t; g < 8 * t + 8; g++) {
                s[g * 4 + 0] = fa90::ex2_ftz(fmaf(s[g * 4 + 0], f[t][0], -cst[0]));
                s[g * 4 + 1] = fa90::ex2_ftz(fmaf(s[g * 4 + 1], f[t][0], -cst[0]));
                s[g * 4 + 2] = fa90::ex2_ftz(fmaf(s[g * 4 + 2], f[t][1], -cst[1]));
                s[g * 4 + 3] = fa90::ex2_ftz(fmaf(s[g * 4 + 3], f[t][1], -cst[1]));
                ps[0] += s[g * 4 + 0] + s[g * 4 + 1];
                ps[1] += s[g * 4 + 2] + s[g * 4 + 3];
            }
            fa90ws8::pack_chunk(s + 32 * t, pa[2 * t]);
            fa90ws8::pack_chunk(s + 32 * t + 16, pa[2 * t + 1]);
            visited_cols += min(BC, L - kb[t]);
            if (keep != nullptr && tid == 0) keep[jt[t]] = 1u;
        }
        #pragma unroll
        for (int r = 0; r < 2; r++) {
            ps[r] += __shfl_xor_sync(0xffffffffu, ps[r], 1);
            ps[r] += __shfl_xor_sync(0xffffffffu, ps[r], 2);
            l[r] += ps[r];
        }
        pv_prev = ntiles == 2 ? 3 : 1;
    }

    if (rows == 0) return;
    fa90ws8::store_rows<true>(p.out, p.out_bf16, p.lse, p.vs + (long long)bh * D, o, m, l, b, h, bh, H, L, r0, lr0, lr1, valid0,
                              valid1, t4);
    if (tid == 0) {
        atomicAdd(&p.stats[2], (unsigned long long)(4.0 * rows * D * (double)(L - visited_cols)));
        if (half == 0) {
            atomicAdd(&p.stats[0], (unsigned long long)nk);
            atomicAdd(&p.stats[3], (unsigned long long)(nk - nvis));
        }
    }
}

#endif

}  // namespace fa90ws8l

// Grid: B·H·ceil(L/128) CTAs of 384 threads, fa90ws8l::SMEM_BYTES of dynamic shared memory. Tensor maps (bytes): Q and K
// codes as [128, H, L, B] (boxes {128, 1, 64, 1}, both), Vᵀ codes as [Lp, 128, B·H] (boxes {64, 128, 1}, 64-byte swizzle).
extern "C" __global__ void __launch_bounds__(384, 1) flash_attn_sm90ws_fp8_list128_dense_d128_bc64(
        const __grid_constant__ fa90ws::TensorMap mq, const __grid_constant__ fa90ws::TensorMap mk,
        const __grid_constant__ fa90ws::TensorMap mv, fa90ws8l::ListParams p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    fa90ws8l::attention_ws_fp8_list128(mq, mk, mv, p);
#else
    __trap();
#endif
}
