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

namespace fa90ws8l {

using fa90ws::TensorMap;
constexpr int D = 128;
constexpr int BC = 64;                           // keys per listed tile
constexpr int TILE_BYTES = BC * D;               // 8 KiB: one tile's K (64 rows × 128 B) or Vᵀ (128 d-rows × 64 B)
constexpr int STAGE_BYTES = 2 * TILE_BYTES;      // a pair
constexpr int Q_BYTES = 128 * D;                 // 16 KiB
constexpr int SMEM_BYTES = Q_BYTES + 4 * STAGE_BYTES + 1024;   // Java: CudaFp8Attention.LIST_SMEM_BYTES
static_assert(SMEM_BYTES <= 227 * 1024, "one CTA per SM");
constexpr int MAGIC_BITS = 0x4B400000;
constexpr float MAGIC_F = 12582912.f;

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

// Descriptor of a K-major operand with 64-byte rows and the 64-byte swizzle: 8-row atoms 512 bytes apart.
__device__ __forceinline__ uint64_t desc64(uint32_t addr) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(512 >> 4) << 32) | ((uint64_t)2 << 62);
}

__device__ __forceinline__ void wgmma_ss_s8(int* d, uint64_t da, uint64_t db) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, p;\n}\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
        : "l"(da), "l"(db), "r"(1));
}

__device__ __forceinline__ void wgmma_rs_e4m3(float* d, const uint32_t* a, uint64_t db) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, {%64,%65,%66,%67}, %68, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
}

__device__ __forceinline__ uint32_t e4m3x4(float a, float b, float c, float d) {
    uint16_t lo, hi;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(lo) : "f"(b), "f"(a));
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(hi) : "f"(d), "f"(c));
    return (uint32_t)lo | ((uint32_t)hi << 16);
}

// O += P·V over the tiles present (bit t of which: tile t), two k-steps of 32 keys per tile.
template <int WHICH>
__device__ __forceinline__ void issue_pv(float* o, uint32_t (*pa)[4], uint32_t v) {
    #pragma unroll
    for (int kk = 0; kk < 4; kk++) {
        if ((WHICH >> (kk >> 1)) & 1) wgmma_rs_e4m3(o, pa[kk], desc64(v + (kk >> 1) * TILE_BYTES + (kk & 1) * 32));
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
            #pragma unroll
            for (int i = 0; i < 64; i++) si[i] = MAGIC_BITS;
        }
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        if (pv_prev == 3) {
            issue_pv<3>(o, pa, pvbuf);
        } else if (pv_prev == 1) {
            issue_pv<1>(o, pa, pvbuf);
        }
        if (qk) {
            #pragma unroll
            for (int kk = 0; kk < 4; kk++) wgmma_ss_s8(si, fa90::desc128(myQ + kk * 32), fa90::desc128(kbuf + kk * 32));
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        fa90::fence_regs<64>(o);
        #pragma unroll
        for (int i = 0; i < 64; i++) asm volatile("" : "+r"(si[i])::"memory");
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
            #pragma unroll
            for (int kb32 = 2 * t; kb32 < 2 * t + 2; kb32++) {
                const float* x = s + 16 * kb32;
                pa[kb32][0] = e4m3x4(x[0], x[1], x[4], x[5]);
                pa[kb32][1] = e4m3x4(x[2], x[3], x[6], x[7]);
                pa[kb32][2] = e4m3x4(x[8], x[9], x[12], x[13]);
                pa[kb32][3] = e4m3x4(x[10], x[11], x[14], x[15]);
            }
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
    const float* vs = p.vs + (long long)bh * D;
    const long long row_stride = (long long)H * D;
    const long long head_base = ((long long)b * L * H + h) * D;
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        if (!(r == 0 ? valid0 : valid1)) continue;
        const int row = r0 + (r == 0 ? lr0 : lr1);
        const float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;   // an empty list: zeros
        const long long at = head_base + (long long)row * row_stride + 2 * t4;
        #pragma unroll
        for (int g = 0; g < 16; g++) {
            const float2 sc = *reinterpret_cast<const float2*>(vs + g * 8 + 2 * t4);
            const float x0 = o[g * 4 + 2 * r] * inv * sc.x, x1 = o[g * 4 + 2 * r + 1] * inv * sc.y;
            if (p.out_bf16) {
                *reinterpret_cast<uint32_t*>(reinterpret_cast<__nv_bfloat16*>(p.out) + at + g * 8) = fa90::pack2(x0, x1);
            } else {
                *reinterpret_cast<float2*>(reinterpret_cast<float*>(p.out) + at + g * 8) = make_float2(x0, x1);
            }
        }
        if (p.lse != nullptr && t4 == 0) p.lse[(long long)bh * L + row] = (m[r] - 8.f) * 0.6931471805599453f + logf(l[r]);
    }
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
