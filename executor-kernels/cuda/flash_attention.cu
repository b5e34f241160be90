// flash_attention.cu: forward attention with in-loop tile skipping (issue 5, first milestones).
// Java twin: io.sparserender.engine.attention.TiledAttention with LoopRule (dense, blasst, dynsparse,
// recall bound=max); Java launcher: io.sparserender.engine.gpu.CudaAttention (Params mirrors FaParams).
//
// q, k, v: bf16 [B, L, H, D]; out: fp32 [B, L, H, D]; lse (optional): fp32 [B, H, L], natural log;
// keep (optional): one u32 per (b, h, q-tile, kv-tile), 1 when the tile's exp/PV was done;
// stats: 3 x u64 {kv-tiles visited, kv-tiles skipped in the loop, FLOPs saved (2·rows·cols·D per skip)}.
//
// One CTA = one q-tile of BR = 64 rows (the reference's br), 4 warps x 16 rows, mma.sync m16n8k16 bf16
// with fp32 accumulation. Loop over kv-tiles of BC keys (the reference's bc, 32 or 64) in natural
// order:
//   wait K_j; S = Q K_jᵀ (raw dot products); t[r] = max_c S[r][c] (masked columns = −∞)
//   decision (per row, then AND over the CTA's valid rows with __syncthreads_and), on the running
//   state BEFORE this tile's update, exactly LoopRule's:
//     blasst:    t·scale − m·scale < thr                      (thr = ln(scale_b / L))
//     dynsparse: l > 0 && t·scale − (m·scale + ln l) < λ
//     recall:    l > 0 && skipped + cols·exp((t − m)·scale) ≤ ratio·l  (then skipped += bound)
//   skip: issue K_{j+1}, count, continue (no exp, no V load, no PV)
//   keep: issue V_j then K_{j+1}; m' = max(m, t); α = exp((m − m')·scale) (0 while m = −∞);
//         p = exp2(S·scale·log2e − m'·scale·log2e); l = α·l + Σp (full row sum, every tile, since
//         dynsparse/recall read it); O = α·O + bf16(p)·V_j; skipped *= α
// m is kept in raw-dot units (scale > 0, so max commutes with the scale).
//
// Listed entry points (flash_attn_list_*, FaListParams): the same CTA walks a per-q-tile list of
// kv-tiles instead of 0 .. nk−1 (attention_plan.cu writes it: topk, topp, hybrid's pre-skip, orders
// local and estimate; a null list = natural order, a null count = every tile), prefetching K of the
// next listed tile; tiles not on the list get no QKᵀ (keep flag 2, counted as skipped before QKᵀ,
// 4·rows·cols·D FLOPs saved). They also run the recall bounds exact (Σ_c exp((s − m)·scale), the
// tile's exps without V or PV) and binned (scores counted into 1-nat bins below the row max, 8-bit
// counters packed in a u64, Σ_k count_k·exp(t − k − m) as RecallBound). The unlisted entry points
// are compiled from the same template with LISTED = false: their code is what it was.
#include <stdint.h>
#include <cuda_bf16.h>
#include "attention_bounds.cuh"

namespace fa {

constexpr int BR = 64;
constexpr int THREADS = 128;

enum Mode : int { DENSE = 0, BLASST = 1, DYNSPARSE = 2, RECALL_MAX = 3, RECALL_EXACT = 4, RECALL_BINNED = 5 };

struct FaParams {
    const __nv_bfloat16* q;
    const __nv_bfloat16* k;
    const __nv_bfloat16* v;
    float* out;
    float* lse;                  // may be null
    unsigned int* keep;          // may be null
    unsigned long long* stats;   // 3 counters
    int batch;
    int seq_len;
    int heads;
    int mode;
    float scale;                 // 1/sqrt(D)
    float threshold;             // blasst: ln(scale_b/L); dynsparse: lambda; recall: (1-r)/r·(1-slack)
};

// The listed kernels' params: FaParams, then the visit lists. stats holds 4 counters there (the 4th:
// kv-tiles skipped before QKᵀ); keep flags: 0 skipped in the loop, 1 kept, 2 not on the list.
struct FaListParams {
    FaParams base;
    const int* list;             // list[bh * list_bh_stride + qt * nk + i], i < count; null: natural order
    const int* count;            // [B*H, nq]; null: every kv-tile is listed
    long long list_bh_stride;    // nq*nk, or 0 when one list serves every (batch, head)
};

// Row sums of a recall bound over this thread's columns of one row (r = 0: fragment entries 0, 1;
// r = 1: entries 2, 3), reduced over the quad. Masked columns hold −∞.
template <int SN>
__device__ __forceinline__ float exact_bound(const float (*s)[4], int r, float sl2e, float msc) {
    float sum = 0.f;
#pragma unroll
    for (int nt = 0; nt < SN; nt++) {
        sum += exp2f(fmaf(s[nt][2 * r], sl2e, -msc)) + exp2f(fmaf(s[nt][2 * r + 1], sl2e, -msc));
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    return sum;
}

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy; src_bytes = 0 zero-fills the destination (rows past L).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldsm_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(smem_u32(p)));
}

__device__ __forceinline__ void mma16816(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
}

// Element (row, col) of a [rows][D] bf16 tile in shared memory, 16-byte chunks XOR-swizzled by row.
template <int D>
__device__ __forceinline__ int swz(int row, int col) {
    return row * D + ((((col >> 3) ^ (row & 7))) << 3) + (col & 7);
}

// Copies rows [r0, r0 + ROWS) of head (b, h) into a swizzled tile; rows >= L are zero-filled.
template <int D, int ROWS>
__device__ __forceinline__ void load_tile(__nv_bfloat16* dst, const __nv_bfloat16* base, int r0, int seq_len,
                                          long long row_stride) {
    constexpr int CHUNKS = D / 8;
    for (int i = threadIdx.x; i < ROWS * CHUNKS; i += THREADS) {
        int row = i / CHUNKS, ch = i % CHUNKS;
        int g = r0 + row;
        bool ok = g < seq_len;
        const __nv_bfloat16* src = base + (long long)(ok ? g : 0) * row_stride + ch * 8;
        cp_async16(dst + swz<D>(row, ch * 8), src, ok ? 16 : 0);
    }
}

template <int D, int BC, bool LISTED>
__device__ __forceinline__ void attention_cta(const FaParams& p, const int* list, const int* count, long long list_bh_stride) {
    constexpr int KSTEPS = D / 16;   // k-steps of QKᵀ
    constexpr int SN = BC / 8;       // n-tiles of S per warp
    constexpr int ON = D / 8;        // n-tiles of O per warp
    constexpr int PK = BC / 16;      // k-steps of PV
    extern __shared__ __align__(128) unsigned char smem_raw[];
    __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem_raw);
    __nv_bfloat16* sK = sQ + BR * D;            // two buffers of BC x D
    __nv_bfloat16* sV = sK + 2 * BC * D;        // one buffer of BC x D

    const int L = p.seq_len, H = p.heads;
    const int nq = (L + BR - 1) / BR, nk = (L + BC - 1) / BC;
    const int qt = blockIdx.x % nq;
    const int bh = blockIdx.x / nq;
    const int b = bh / H, h = bh % H;
    const long long row_stride = (long long)H * D;
    const long long head0 = ((long long)b * L * H + h) * D;
    const __nv_bfloat16* q = p.q + head0;
    const __nv_bfloat16* k = p.k + head0;
    const __nv_bfloat16* v = p.v + head0;
    const int r0 = qt * BR;
    const int rows = min(BR, L - r0);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t4 = lane & 3;
    const int mode = p.mode;
    const float scale = p.scale;
    const float sl2e = scale * 1.4426950408889634f;
    const float thr = p.threshold;

    // Listed: the q-tile's visit list (nvis entries, at least one); unlisted: 0 .. nk−1.
    int nvis = nk;
    const int* lst = nullptr;
    int jcur = 0;
    if constexpr (LISTED) {
        if (count != nullptr) nvis = count[(long long)bh * nq + qt];
        if (list != nullptr) {
            lst = list + (long long)bh * list_bh_stride + (long long)qt * nk;
            jcur = __ldg(lst);
        }
        if (p.keep != nullptr) {
            for (int j = threadIdx.x; j < nk; j += THREADS) p.keep[((long long)bh * nq + qt) * nk + j] = 2;
        }
    }

    load_tile<D, BR>(sQ, q, r0, L, row_stride);
    if constexpr (LISTED) {
        load_tile<D, BC>(sK, k, jcur * BC, L, row_stride);
    } else {
        load_tile<D, BC>(sK, k, 0, L, row_stride);
    }
    cp_async_commit();

    // The two rows this thread holds in every fragment: warp*16 + g and warp*16 + g + 8.
    const int lr0 = warp * 16 + g, lr1 = lr0 + 8;
    const bool valid0 = r0 + lr0 < L, valid1 = r0 + lr1 < L;

    float m[2] = {-INFINITY, -INFINITY};
    float l[2] = {0.f, 0.f};
    float skipped[2] = {0.f, 0.f};
    float o[ON][4];
#pragma unroll
    for (int i = 0; i < ON; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    uint32_t qa[KSTEPS][4];

    long long cta_skipped = 0;
    double cta_saved = 0;
    long long visited_cols = 0;

    for (int it = 0; it < nvis; it++) {
        // j: this tile; jn: the next one on the list (its K is prefetched), −1 past the end.
        int j, jn;
        if constexpr (LISTED) {
            j = jcur;
            jn = it + 1 < nvis ? (lst != nullptr ? __ldg(lst + it + 1) : it + 1) : -1;
        } else {
            j = it;
            jn = it + 1;
        }
        const __nv_bfloat16* bufK = sK + (it & 1) * BC * D;
        cp_async_wait<0>();
        __syncthreads();
        if ((LISTED ? it : j) == 0) {   // Q fragments into registers before the first QKᵀ
#pragma unroll
            for (int ks = 0; ks < KSTEPS; ks++) {
                const __nv_bfloat16* a = sQ + swz<D>(warp * 16 + (lane & 15), ks * 16 + (lane >> 4) * 8);
                ldsm_x4(qa[ks][0], qa[ks][1], qa[ks][2], qa[ks][3], a);
            }
        }
        // S = Q K_jᵀ
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
        const int c0 = j * BC;
        const int cols = min(BC, L - c0);
        if constexpr (LISTED) visited_cols += cols;
        if (cols < BC) {
#pragma unroll
            for (int nt = 0; nt < SN; nt++) {
                int c = nt * 8 + 2 * t4;
                if (c >= cols) { s[nt][0] = -INFINITY; s[nt][2] = -INFINITY; }
                if (c + 1 >= cols) { s[nt][1] = -INFINITY; s[nt][3] = -INFINITY; }
            }
        }
        float tmax[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < SN; nt++) {
            tmax[0] = fmaxf(tmax[0], fmaxf(s[nt][0], s[nt][1]));
            tmax[1] = fmaxf(tmax[1], fmaxf(s[nt][2], s[nt][3]));
        }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 1));
            tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 2));
        }
        // In-loop decision: every valid row must agree (rows past L agree vacuously).
        bool skip = false;
        float bound[2] = {0.f, 0.f};
        if (mode != DENSE) {
            bool agree[2];
#pragma unroll
            for (int r = 0; r < 2; r++) {
                float tn = tmax[r] * scale, mn = m[r] * scale;
                if (mode == BLASST) {
                    agree[r] = tn - mn < thr;
                } else if (mode == DYNSPARSE) {
                    agree[r] = l[r] > 0.f && tn - (mn + logf(l[r])) < thr;
                } else {
                    if constexpr (LISTED) {
                        if (mode == RECALL_EXACT) {
                            bound[r] = exact_bound<SN>(s, r, sl2e, m[r] * sl2e);
                        } else if (mode == RECALL_BINNED) {
                            unsigned long long cnt = 0ull;
#pragma unroll
                            for (int nt = 0; nt < SN; nt++) {
                                cnt += attn::bin_one(s[nt][2 * r], tmax[r], scale) + attn::bin_one(s[nt][2 * r + 1], tmax[r], scale);
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
            bool mine = (agree[0] || !valid0) && (agree[1] || !valid1);
            skip = __syncthreads_and(mine) != 0;
        } else {
            __syncthreads();
        }
        if (skip) {
            if constexpr (LISTED) {
                if (mode >= RECALL_MAX) { skipped[0] += bound[0]; skipped[1] += bound[1]; }
                if (jn >= 0) load_tile<D, BC>(sK + ((it + 1) & 1) * BC * D, k, jn * BC, L, row_stride);
                jcur = jn;
            } else {
                if (mode == RECALL_MAX) { skipped[0] += bound[0]; skipped[1] += bound[1]; }
                if (j + 1 < nk) load_tile<D, BC>(sK + ((j + 1) & 1) * BC * D, k, c0 + BC, L, row_stride);
            }
            cp_async_commit();
            cta_skipped++;
            cta_saved += 2.0 * rows * cols * D;
            if (p.keep != nullptr && threadIdx.x == 0) p.keep[((long long)bh * nq + qt) * nk + j] = 0;
            continue;
        }
        if (p.keep != nullptr && threadIdx.x == 0) p.keep[((long long)bh * nq + qt) * nk + j] = 1;
        load_tile<D, BC>(sV, v, c0, L, row_stride);
        cp_async_commit();
        if constexpr (LISTED) {
            if (jn >= 0) load_tile<D, BC>(sK + ((it + 1) & 1) * BC * D, k, jn * BC, L, row_stride);
            jcur = jn;
        } else {
            if (j + 1 < nk) load_tile<D, BC>(sK + ((j + 1) & 1) * BC * D, k, c0 + BC, L, row_stride);
        }
        cp_async_commit();
        // Online softmax update.
        float alpha[2], msc[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float mnew = fmaxf(m[r], tmax[r]);
            alpha[r] = m[r] == -INFINITY ? 0.f : exp2f((m[r] - mnew) * sl2e);
            m[r] = mnew;
            msc[r] = mnew * sl2e;
        }
        float rs[2] = {0.f, 0.f};
#pragma unroll
        for (int nt = 0; nt < SN; nt++) {
            s[nt][0] = exp2f(fmaf(s[nt][0], sl2e, -msc[0]));
            s[nt][1] = exp2f(fmaf(s[nt][1], sl2e, -msc[0]));
            s[nt][2] = exp2f(fmaf(s[nt][2], sl2e, -msc[1]));
            s[nt][3] = exp2f(fmaf(s[nt][3], sl2e, -msc[1]));
            rs[0] += s[nt][0] + s[nt][1];
            rs[1] += s[nt][2] + s[nt][3];
        }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 1);
            rs[r] += __shfl_xor_sync(0xffffffffu, rs[r], 2);
            l[r] = alpha[r] * l[r] + rs[r];
            skipped[r] *= alpha[r];
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
    }
    cp_async_wait<0>();

    // Epilogue: O / l, fp32 rows < L; LSE = m·scale + ln l.
    const long long out_row_stride = (long long)H * D;
    float* out = p.out + head0;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        bool ok = r == 0 ? valid0 : valid1;
        if (!ok) continue;
        int row = r0 + (r == 0 ? lr0 : lr1);
        float inv = 1.f / l[r];
        float* dst = out + (long long)row * out_row_stride;
#pragma unroll
        for (int nt = 0; nt < ON; nt++) {
            float2 val = make_float2(o[nt][2 * r] * inv, o[nt][2 * r + 1] * inv);
            *reinterpret_cast<float2*>(dst + nt * 8 + 2 * t4) = val;
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

}  // namespace fa

#define FA_KERNEL(D, BC)                                                                              \
    extern "C" __global__ void __launch_bounds__(fa::THREADS, 2) flash_attn_fwd_d##D##_bc##BC(fa::FaParams p) { \
        fa::attention_cta<D, BC, false>(p, nullptr, nullptr, 0);                                      \
    }                                                                                                 \
    extern "C" __global__ void __launch_bounds__(fa::THREADS, 2) flash_attn_list_d##D##_bc##BC(fa::FaListParams p) { \
        fa::attention_cta<D, BC, true>(p.base, p.list, p.count, p.list_bh_stride);                   \
    }
FA_KERNEL(64, 64)
FA_KERNEL(128, 64)
FA_KERNEL(64, 32)
FA_KERNEL(128, 32)
#undef FA_KERNEL
