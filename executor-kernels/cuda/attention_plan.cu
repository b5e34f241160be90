// attention_plan.cu: the pre-pass of the sparse attention kernels (issue 5): per q-tile, which kv-tiles
// the attention kernel visits and in what order, as a list the kernel walks (flash_attention*.cu, the
// "listed" entry points). Java twins: io.sparserender.engine.attention.TileEstimates (meanPooled),
// TilePlanner (plan, topK, topP, hybrid, descending) and LocalOrder; Java launcher:
// io.sparserender.engine.gpu.AttentionPlanner.
//
// The kernels, run in this order as the policy needs them:
//   attn_pool_tiles   q̄ = mean over a q-tile's rows of (q · 1/√D), k̄ = mean over a kv-tile's keys of k
//   attn_tile_scores  w[qt][kt] = q̄[qt] · k̄[kt] + ln(cols of kt)            (the softmax logits)
//   attn_global_query, attn_global_scores, attn_global_top (hybrid, global > 0, no prior): per head
//                     ḡ = mean of the q̄ tiles, each key's score ḡ · k, per kv-tile its largest, the
//                     first `global` kv-tiles by that (TileEstimates.globalTiles): never pre-skipped
//   attn_plan         per q-tile: est = softmax over kt of w (or a prior's masses), sorted descending,
//                     topk / topp / hybrid cut (hybrid passes over the head's global tiles), then the
//                     kept tiles in the policy's order → list, count
//   attn_local_order  per q-tile: kv-tiles by the distance of token centroids on the (frame, row, col)
//                     grid, nearest first (input-independent: one list shared by every (batch, head))
//
// Exactness: every value the plan depends on is computed with the same operations in the same order as
// the Java reference, so the lists are the reference's bit for bit: the pooled sums run row by row
// in one thread, the dot products d by d in one thread, with __fmul_rn/__fadd_rn (no FMA contraction,
// which Java never does), the divisions with __fdiv_rn, exp in double then rounded to float as Java's
// (float) Math.exp, the softmax sum and the topp / hybrid prefix sums in index / sorted order in one
// thread, and ln(cols) passed in from the host as (float) Math.log. The one possible difference is
// CUDA's double exp against Java's Math.exp (both within 1 ulp in double): their float roundings can
// differ only when the double lands within an ulp of a float rounding boundary.
// Ties are broken as the reference: est descending, then lower index first; distance ascending, then
// lower index first. Sorting: a bitonic sort of (64-bit key, 32-bit index) pairs in shared memory over
// the next power of two ≥ nk entries (nk ≤ MAX_SORT = 8192: 96 KiB, the opt-in limit of sm_86/89).
#include <stdint.h>
#include <cuda_bf16.h>

namespace ap {

constexpr int PLAN_THREADS = 256;

enum PlanKind : int { ORDER_ONLY = 0, TOPK = 1, TOPP = 2, HYBRID = 3 };
enum Order : int { NATURAL = 0, LOCAL = 1, ESTIMATE = 2 };

struct PoolParams {
    const __nv_bfloat16* q;      // [B, L, H, D]
    const __nv_bfloat16* k;      // [B, L, H, D]
    float* qbar;                 // [B*H, nq, D]
    float* kbar;                 // [B*H, nk, D]
    int batch;
    int seq_len;
    int heads;
    int head_dim;
    int br;
    int bc;
    float scale;                 // (float) (1 / sqrt(D)), as the reference scales q before pooling
};

struct ScoreParams {
    const float* qbar;           // [B*H, nq, D]
    const float* kbar;           // [B*H, nk, D]
    float* w;                    // [B*H, nq, nk]
    int bh_count;
    int nq;
    int nk;
    int head_dim;
    float log_bc;                // (float) Math.log(bc)
    float log_last;              // (float) Math.log(cols of the last kv-tile)
};

struct PlanParams {
    const float* w;              // [B*H, nq, nk]: softmax logits, or a prior's masses when is_prior
    const int* local;            // [nq, nk] local-first order (order = LOCAL), else null
    float* est_out;              // [B*H, nq, nk] the estimate as used, or null
    int* list;                   // [B*H, nq, nk]: the first count entries are the visit list
    int* count;                  // [B*H, nq]
    int bh_count;
    int nq;
    int nk;
    int npow2;                   // next power of two >= nk (the sort size)
    int kind;                    // PlanKind
    int order;                   // Order
    int is_prior;                // w holds masses already (TileEstimates.fromPrior): no softmax
    int topk;
    float topp;                  // (float) p
    float budget;                // (float) (pre · (1 − r))
    const int* global;           // [B*H, n_global]: hybrid's kv-tiles never pre-skipped, or null
    int n_global;                // min(global, nk), 0 when none
};

struct GlobalParams {
    const float* qbar;           // [B*H, nq, D] (attn_pool_tiles)
    const __nv_bfloat16* k;      // [B, L, H, D]
    float* gbar;                 // [B*H, D]: the head's mean query ḡ
    unsigned int* best;          // [B*H, nk]: orderable(largest ḡ · k of the kv-tile); attn_global_top clobbers it
    int* global;                 // [B*H, n_global]: the chosen kv-tiles
    int batch;
    int seq_len;
    int heads;
    int head_dim;
    int bc;
    int nq;
    int nk;
    int n_global;
};

struct LocalParams {
    int* out;                    // [nq, nk]
    int seq_len;
    int frames;
    int rows;
    int cols;
    int br;
    int bc;
    int nq;
    int nk;
    int npow2;
};

// Orders floats as unsigned integers (−0 before +0, negatives reversed), like Double.compare on them.
__device__ __forceinline__ uint32_t orderable(float f) {
    uint32_t u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float from_orderable(uint32_t o) {
    return __uint_as_float((o & 0x80000000u) ? (o & 0x7FFFFFFFu) : ~o);
}

// Ascending bitonic sort of n (a power of two) pairs (key, idx) by key, then idx. Every thread calls.
__device__ void bitonic_sort(unsigned long long* key, uint32_t* idx, int n) {
    for (int k = 2; k <= n; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            // One compare-exchange per thread and pair: pair q is (i, i + j) with i = the q-th index whose bit j is 0
            // (measured: looping over all n indices and idling where i ^ j < i left half the threads idle and made
            // the sort most of attn_plan's instructions).
            for (int q = threadIdx.x; q < n / 2; q += blockDim.x) {
                const int i = ((q & ~(j - 1)) << 1) | (q & (j - 1)), ixj = i + j;
                unsigned long long ka = key[i], kb = key[ixj];
                uint32_t ia = idx[i], ib = idx[ixj];
                bool a_greater = ka > kb || (ka == kb && ia > ib);
                bool up = (i & k) == 0;
                if (a_greater == up) {
                    key[i] = kb; key[ixj] = ka;
                    idx[i] = ib; idx[ixj] = ia;
                }
            }
            __syncthreads();
        }
    }
}

// Ascending bitonic sort of n (a power of two) 64-bit words. attn_plan packs (key << 32 | index) into one word, so a
// compare-exchange is two 8-byte loads, one 64-bit compare and at most two 8-byte stores (measured: the (key, index)
// pairs in two arrays made the sort a third of attn_plan's time). Every thread calls; ends with a barrier.
__device__ void bitonic_sort_packed(unsigned long long* w, int n) {
    for (int k = 2; k <= n; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int q = threadIdx.x; q < n / 2; q += blockDim.x) {
                const int i = ((q & ~(j - 1)) << 1) | (q & (j - 1)), ixj = i + j;
                const unsigned long long a = w[i], b = w[ixj];
                if ((a > b) == ((i & k) == 0)) {
                    w[i] = b;
                    w[ixj] = a;
                }
            }
            __syncthreads();
        }
    }
}

// Appends, in position order, every base[i] (i < n) whose flag is set to out; returns how many.
// base(i) and flag(j) are callables; every thread calls; ends with a barrier. scratch: 32 ints.
template <typename Base, typename Flag>
__device__ int compact(Base base, Flag flag, int n, int* out, int* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    int total = 0;
    for (int c0 = 0; c0 < n; c0 += blockDim.x) {
        int i = c0 + threadIdx.x;
        int j = i < n ? base(i) : -1;
        bool f = i < n && flag(j);
        unsigned ballot = __ballot_sync(0xffffffffu, f);
        if (lane == 0) scratch[warp] = __popc(ballot);
        __syncthreads();
        int before = total;
        for (int w = 0; w < warp; w++) before += scratch[w];
        if (f) out[before + __popc(ballot & ((1u << lane) - 1u))] = j;
        int sum = 0;
        for (int w = 0; w < warps; w++) sum += scratch[w];
        total += sum;
        __syncthreads();
    }
    return total;
}

}  // namespace ap

// Grid: B*H*(nq + nk) blocks of head_dim threads (64 or 128). Block (bh, t): t < nq pools q-tile t,
// else kv-tile t − nq. Thread d sums column d row by row: the reference's pool() order.
extern "C" __global__ void __launch_bounds__(128) attn_pool_tiles(ap::PoolParams p) {
    const int L = p.seq_len, H = p.heads, D = p.head_dim;
    const int nq = (L + p.br - 1) / p.br, nk = (L + p.bc - 1) / p.bc;
    const int bh = blockIdx.x / (nq + nk), t = blockIdx.x % (nq + nk);
    const int b = bh / H, h = bh % H, d = threadIdx.x;
    const bool isq = t < nq;
    const int tile = isq ? p.br : p.bc;
    const int ti = isq ? t : t - nq;
    const int start = ti * tile, n = min(tile, L - start);
    const __nv_bfloat16* src = (isq ? p.q : p.k) + (((long long)b * L + start) * H + h) * D + d;
    const long long stride = (long long)H * D;
    float acc = 0.f;
    if (isq) {
        for (int i = 0; i < n; i++) acc = __fadd_rn(acc, __fmul_rn(__bfloat162float(src[i * stride]), p.scale));
    } else {
        for (int i = 0; i < n; i++) acc = __fadd_rn(acc, __bfloat162float(src[i * stride]));
    }
    float* dst = isq ? p.qbar + ((long long)bh * nq + ti) * D : p.kbar + ((long long)bh * nk + ti) * D;
    dst[d] = __fdiv_rn(acc, (float)n);
}

// Grid: B*H * ceil(nq/64) * ceil(nk/64) blocks of 256 threads; block (bh, q-tile group, kv-tile group) computes
// 64 x 64 logits, each thread 4 q-tiles x 4 kv-tiles from registers (8 shared-memory loads per 16 products; the
// earlier 4 x 1 per thread was bound by its shared-memory loads). Each dot product still runs d = 0 .. D−1 in one
// thread without FMA, as the reference's loop.
extern "C" __global__ void __launch_bounds__(256) attn_tile_scores(ap::ScoreParams p) {
    __shared__ float sq[64][33];
    __shared__ float sk[64][33];
    const int D = p.head_dim, nq = p.nq, nk = p.nk;
    const int gq = (nq + 63) / 64, gk = (nk + 63) / 64;
    const int bh = blockIdx.x / (gq * gk), rest = blockIdx.x % (gq * gk);
    const int q0 = (rest / gk) * 64, k0 = (rest % gk) * 64;
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;   // q-tiles q0 + ty + 16 a, kv-tiles k0 + tx + 16 c
    const float* qb = p.qbar + (long long)bh * nq * D;
    const float* kb = p.kbar + (long long)bh * nk * D;
    float acc[4][4];
#pragma unroll
    for (int a = 0; a < 4; a++) {
#pragma unroll
        for (int c = 0; c < 4; c++) acc[a][c] = 0.f;
    }
    for (int d0 = 0; d0 < D; d0 += 32) {
        for (int i = tid; i < 64 * 32; i += 256) {
            int r = i / 32, c = i % 32;
            sq[r][c] = q0 + r < nq ? qb[(long long)(q0 + r) * D + d0 + c] : 0.f;
            sk[r][c] = k0 + r < nk ? kb[(long long)(k0 + r) * D + d0 + c] : 0.f;
        }
        __syncthreads();
#pragma unroll 4
        for (int d = 0; d < 32; d++) {
            float qv[4], kv[4];
#pragma unroll
            for (int a = 0; a < 4; a++) qv[a] = sq[ty + 16 * a][d];
#pragma unroll
            for (int c = 0; c < 4; c++) kv[c] = sk[tx + 16 * c][d];
#pragma unroll
            for (int a = 0; a < 4; a++) {
#pragma unroll
                for (int c = 0; c < 4; c++) acc[a][c] = __fadd_rn(acc[a][c], __fmul_rn(qv[a], kv[c]));
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int c = 0; c < 4; c++) {
        const int kt = k0 + tx + 16 * c;
        if (kt >= nk) continue;
        const float lc = kt == nk - 1 ? p.log_last : p.log_bc;
#pragma unroll
        for (int a = 0; a < 4; a++) {
            int qt = q0 + ty + 16 * a;
            if (qt < nq) p.w[((long long)bh * nq + qt) * nk + kt] = __fadd_rn(acc[a][c], lc);
        }
    }
}

// Grid: B*H blocks of head_dim threads. ḡ[d] = (Σ_t q̄[t][d], t ascending) / nq, as TileEstimates.globalTiles.
extern "C" __global__ void __launch_bounds__(128) attn_global_query(ap::GlobalParams p) {
    const int bh = blockIdx.x, d = threadIdx.x, D = p.head_dim;
    const float* qb = p.qbar + (long long)bh * p.nq * D + d;
    float acc = 0.f;
    for (int t = 0; t < p.nq; t++) acc = __fadd_rn(acc, qb[(long long)t * D]);
    p.gbar[(long long)bh * D + d] = __fdiv_rn(acc, (float)p.nq);
}

// Grid: B*H*nk blocks of 128 threads. Block (bh, kt): each key's ḡ · k (d ascending, no FMA) in one thread,
// the largest over the tile as an orderable integer (a max is exact in any order; −0 < +0 as Math.max). The keys
// are staged in shared memory with 16-byte loads first (each thread walking its own key's row in global memory
// was bound by the scattered 2-byte loads: 2.1 ms at L 75,600, H 40); rows padded to an odd number of words.
extern "C" __global__ void __launch_bounds__(128) attn_global_scores(ap::GlobalParams p) {
    constexpr int KEYS = 128, MAX_WORDS = 64 + 1;               // keys per pass; D ≤ 128: 64 bf16 pairs + 1 pad
    __shared__ uint32_t sk[KEYS * MAX_WORDS];
    __shared__ float sg[128];
    __shared__ unsigned int wbest[32];
    const int D = p.head_dim, L = p.seq_len, H = p.heads;
    const int words = D / 2, stride = words + 1;
    const int bh = blockIdx.x / p.nk, kt = blockIdx.x % p.nk;
    const int b = bh / H, h = bh % H;
    const int start = kt * p.bc, n = min(p.bc, L - start);
    for (int d = threadIdx.x; d < D; d += blockDim.x) sg[d] = p.gbar[(long long)bh * D + d];
    const __nv_bfloat16* k0 = p.k + (((long long)b * L + start) * H + h) * D;
    const bool vec = (reinterpret_cast<uintptr_t>(p.k) & 15u) == 0u && D % 8 == 0;
    unsigned int best = ap::orderable(-INFINITY);
    for (int c0 = 0; c0 < n; c0 += KEYS) {
        const int m = min(KEYS, n - c0);
        __syncthreads();   // sg written; the previous pass's rows read
        if (vec) {
            const int chunks = D / 8;                             // 16-byte chunks per key
            for (int i = threadIdx.x; i < m * chunks; i += blockDim.x) {
                const int c = i / chunks, ch = i % chunks;
                const uint4 v = *reinterpret_cast<const uint4*>(k0 + (long long)(c0 + c) * H * D + ch * 8);
                uint32_t* row = sk + c * stride + ch * 4;
                row[0] = v.x; row[1] = v.y; row[2] = v.z; row[3] = v.w;
            }
        } else {
            for (int i = threadIdx.x; i < m * words; i += blockDim.x) {
                const int c = i / words, wd = i % words;
                sk[c * stride + wd] = *reinterpret_cast<const uint32_t*>(k0 + (long long)(c0 + c) * H * D + 2 * wd);
            }
        }
        __syncthreads();
        for (int c = threadIdx.x; c < m; c += blockDim.x) {
            const uint32_t* row = sk + c * stride;
            float dot = 0.f;
            for (int wd = 0; wd < words; wd++) {
                const __nv_bfloat162 pair = *reinterpret_cast<const __nv_bfloat162*>(row + wd);
                dot = __fadd_rn(dot, __fmul_rn(sg[2 * wd], __low2float(pair)));
                dot = __fadd_rn(dot, __fmul_rn(sg[2 * wd + 1], __high2float(pair)));
            }
            best = max(best, ap::orderable(dot));
        }
    }
    for (int o = 16; o > 0; o >>= 1) best = max(best, __shfl_xor_sync(0xffffffffu, best, o));
    if ((threadIdx.x & 31) == 0) wbest[threadIdx.x >> 5] = best;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < (int)(blockDim.x >> 5); w++) best = max(best, wbest[w]);
        p.best[(long long)bh * p.nk + kt] = best;
    }
}

// Grid: B*H blocks of 256 threads. n_global rounds of: the kv-tile with the largest best, ties lower index
// (TilePlanner.descending's order), taken out. Keys (best << 32 | ~index) so one max picks both.
extern "C" __global__ void __launch_bounds__(ap::PLAN_THREADS) attn_global_top(ap::GlobalParams p) {
    __shared__ unsigned long long wkey[32];
    const int bh = blockIdx.x, nk = p.nk;
    unsigned int* best = p.best + (long long)bh * nk;
    for (int r = 0; r < p.n_global; r++) {
        unsigned long long mine = 0ull;   // below every real key: orderable(non-NaN) ≥ 0x007FFFFF
        for (int j = threadIdx.x; j < nk; j += blockDim.x) {
            unsigned long long kj = best[j] == 0u ? 0ull : ((unsigned long long)best[j] << 32) | (unsigned int)~(unsigned int)j;
            mine = kj > mine ? kj : mine;
        }
        for (int o = 16; o > 0; o >>= 1) {
            unsigned long long other = __shfl_xor_sync(0xffffffffu, mine, o);
            mine = other > mine ? other : mine;
        }
        if ((threadIdx.x & 31) == 0) wkey[threadIdx.x >> 5] = mine;
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < (int)(blockDim.x >> 5); w++) mine = wkey[w] > mine ? wkey[w] : mine;
            int j = (int)~(unsigned int)(mine & 0xffffffffull);
            p.global[(long long)bh * p.n_global + r] = j;
            best[j] = 0u;                  // taken
        }
        __syncthreads();
    }
}

// Grid: B*H*nq blocks of 256 threads; dynamic shared memory npow2 * 12 + 128 bytes.
extern "C" __global__ void __launch_bounds__(ap::PLAN_THREADS) attn_plan(ap::PlanParams p) {
    extern __shared__ __align__(16) unsigned char smem_plan[];
    const int nk = p.nk, n2 = p.npow2;
    // Sorted words: (~orderable(est) << 32) | index, so ascending = est descending, then index ascending; after the
    // sort, bit 63 marks hybrid's global tiles (the key's top bit is 0 for est ≥ 0) and bit 31 the skipped positions.
    unsigned long long* key = reinterpret_cast<unsigned long long*>(smem_plan);
    uint32_t* flag = reinterpret_cast<uint32_t*>(key + n2);   // kept flags by tile (orders natural and local)
    int* scratch = reinterpret_cast<int*>(flag + n2);         // 32 ints
    float* fscratch = reinterpret_cast<float*>(scratch + 32); // 1 float
    const int row = blockIdx.x;                               // bh * nq + qt
    const int qt = row % p.nq;
    const float* w = p.w + (long long)row * nk;
    float* est = reinterpret_cast<float*>(key);               // est[j] lives in key[j]'s low word until the sort
    auto idx_of = [&](int i) { return (uint32_t)key[i]; };                      // index (and SKIP) of position i
    auto est_of = [&](unsigned long long kw) { return ap::from_orderable(~(uint32_t)(kw >> 32)); };

    // est = softmax over kv-tiles of w (TileEstimates.softmaxInPlace), or the prior's masses as they are.
    if (p.is_prior) {
        for (int j = threadIdx.x; j < nk; j += blockDim.x) est[2 * j] = w[j];
    } else {
        float mx = -INFINITY;
        for (int j = threadIdx.x; j < nk; j += blockDim.x) mx = fmaxf(mx, w[j]);
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        float* wmax = reinterpret_cast<float*>(scratch);
        if ((threadIdx.x & 31) == 0) wmax[threadIdx.x >> 5] = mx;
        __syncthreads();
        mx = -INFINITY;
        for (int i = 0; i < (int)(blockDim.x >> 5); i++) mx = fmaxf(mx, wmax[i]);   // a max is exact in any order
        for (int j = threadIdx.x; j < nk; j += blockDim.x) est[2 * j] = (float)exp((double)__fsub_rn(w[j], mx));
        __syncthreads();
        if (threadIdx.x == 0) {
            // The reference's sum in index order, one thread; loads batched eight at a time so only the adds are
            // serial (one load and add per step left the CTA's other warps waiting at the barrier below).
            float sum = 0.f;
            int j = 0;
            for (; j + 8 <= nk; j += 8) {
                float v[8];
                #pragma unroll
                for (int u = 0; u < 8; u++) v[u] = est[2 * (j + u)];
                #pragma unroll
                for (int u = 0; u < 8; u++) sum = __fadd_rn(sum, v[u]);
            }
            for (; j < nk; j++) sum = __fadd_rn(sum, est[2 * j]);
            fscratch[0] = sum;
        }
        __syncthreads();
        const float sum = fscratch[0];
        for (int j = threadIdx.x; j < nk; j += blockDim.x) est[2 * j] = __fdiv_rn(est[2 * j], sum);
    }
    __syncthreads();
    if (p.est_out != nullptr) {
        for (int j = threadIdx.x; j < nk; j += blockDim.x) p.est_out[(long long)row * nk + j] = est[2 * j];
    }
    // Keys: est descending (then index ascending) = ascending (~orderable(est), index); padding last.
    for (int j = threadIdx.x; j < n2; j += blockDim.x) {
        key[j] = j < nk ? ((unsigned long long)(~ap::orderable(est[2 * j])) << 32) | (uint32_t)j : ~0ull;
    }
    __syncthreads();
    ap::bitonic_sort_packed(key, n2);

    // Hybrid's global tiles: marked in bit 63 of their sorted key (the sort is done; the est is the low word).
    const bool hybrid = p.kind == ap::HYBRID && p.budget > 0.f;
    if (hybrid && p.n_global > 0) {
        const int* g = p.global + (long long)(row / p.nq) * p.n_global;
        for (int i = threadIdx.x; i < nk; i += blockDim.x) {
            for (int a = 0; a < p.n_global; a++) {
                if (g[a] == (int)idx_of(i)) { key[i] |= 1ull << 63; break; }
            }
        }
        __syncthreads();
    }
    // Which sorted positions are skipped (TilePlanner.topK / topP / hybrid): bit 31 of the word (the index's top bit;
    // nk ≤ 8192). The cuts sum in the reference's order in one thread, loads batched eight at a time (see the
    // softmax sum); the hybrid cut only finds where the budget runs out, the marking is done by every thread.
    constexpr uint32_t SKIP = 0x80000000u;
    if (threadIdx.x == 0) {
        int keep = nk, stop = 0;   // topk/topp: positions ≥ keep skipped; hybrid: non-global positions > stop
        if (p.kind == ap::TOPK) {
            keep = min(p.topk, nk);
        } else if (p.kind == ap::TOPP) {
            float sum = 0.f;
            for (int i0 = 0; i0 < nk && keep == nk; i0 += 8) {
                unsigned long long v[8];
                #pragma unroll
                for (int u = 0; u < 8; u++) v[u] = i0 + u < nk ? key[i0 + u] : 0ull;
                #pragma unroll
                for (int u = 0; u < 8; u++) {
                    if (keep == nk && i0 + u < nk) {
                        sum = __fadd_rn(sum, est_of(v[u]));
                        if (sum >= p.topp) keep = i0 + u + 1;
                    }
                }
            }
        } else if (hybrid) {
            // ascending from the lightest; position 0 (the heaviest) is always kept; a global tile is kept and spends
            // no budget
            float sum = 0.f;
            bool over = false;
            for (int i0 = nk - 1; i0 >= 1 && !over; i0 -= 8) {
                unsigned long long v[8];
                #pragma unroll
                for (int u = 0; u < 8; u++) v[u] = i0 - u >= 1 ? key[i0 - u] : 0ull;
                #pragma unroll
                for (int u = 0; u < 8; u++) {
                    if (!over && i0 - u >= 1 && (v[u] >> 63) == 0ull) {
                        sum = __fadd_rn(sum, est_of(v[u]));
                        if (sum > p.budget) { over = true; stop = i0 - u; }
                    }
                }
            }
        }
        scratch[0] = keep;
        scratch[1] = stop;
    }
    __syncthreads();
    const int keep = scratch[0], stop = scratch[1];
    for (int i = keep + threadIdx.x; i < nk; i += blockDim.x) key[i] |= SKIP;
    if (hybrid) {
        for (int i = stop + 1 + threadIdx.x; i < nk; i += blockDim.x) {
            if ((key[i] >> 63) == 0ull) key[i] |= SKIP;
        }
    }
    __syncthreads();
    int* list = p.list + (long long)row * nk;
    int n;
    if (p.order == ap::ESTIMATE) {
        n = ap::compact([&](int i) { return (int)idx_of(i); }, [](int j) { return ((uint32_t)j & SKIP) == 0u; }, nk, list, scratch);
    } else {
        // Kept flags by tile, then the base order filtered.
        for (int j = threadIdx.x; j < nk; j += blockDim.x) flag[j] = 0u;
        __syncthreads();
        for (int i = threadIdx.x; i < nk; i += blockDim.x) {
            if ((idx_of(i) & SKIP) == 0u) flag[idx_of(i)] = 1u;
        }
        __syncthreads();
        const int* local = p.local == nullptr ? nullptr : p.local + (long long)qt * nk;
        if (local != nullptr) {
            n = ap::compact([&](int i) { return local[i]; }, [&](int j) { return flag[j] != 0u; }, nk, list, scratch);
        } else {
            n = ap::compact([](int i) { return i; }, [&](int j) { return flag[j] != 0u; }, nk, list, scratch);
        }
    }
    if (threadIdx.x == 0) p.count[row] = n;
}

// Grid: nq blocks of 256 threads; dynamic shared memory npow2 * 12 bytes. LocalOrder.of, one q-tile.
extern "C" __global__ void __launch_bounds__(ap::PLAN_THREADS) attn_local_order(ap::LocalParams p) {
    extern __shared__ __align__(16) unsigned char smem_local[];
    const int nk = p.nk, n2 = p.npow2, qt = blockIdx.x;
    unsigned long long* key = reinterpret_cast<unsigned long long*>(smem_local);
    uint32_t* idx = reinterpret_cast<uint32_t*>(key + n2);
    const int plane = p.rows * p.cols;
    // The q-tile's centroid, summed in token order in double as the reference.
    double qc0 = 0.0, qc1 = 0.0, qc2 = 0.0;
    {
        const int start = qt * p.br, n = min(p.br, p.seq_len - start);
        for (int i = start; i < start + n; i++) {
            qc0 = __dadd_rn(qc0, (double)(i / plane));
            qc1 = __dadd_rn(qc1, (double)((i / p.cols) % p.rows));
            qc2 = __dadd_rn(qc2, (double)(i % p.cols));
        }
        qc0 = __ddiv_rn(qc0, (double)n);
        qc1 = __ddiv_rn(qc1, (double)n);
        qc2 = __ddiv_rn(qc2, (double)n);
    }
    for (int j = threadIdx.x; j < n2; j += blockDim.x) {
        unsigned long long kj = ~0ull;
        if (j < nk) {
            const int start = j * p.bc, n = min(p.bc, p.seq_len - start);
            double c0 = 0.0, c1 = 0.0, c2 = 0.0;
            for (int i = start; i < start + n; i++) {
                c0 = __dadd_rn(c0, (double)(i / plane));
                c1 = __dadd_rn(c1, (double)((i / p.cols) % p.rows));
                c2 = __dadd_rn(c2, (double)(i % p.cols));
            }
            c0 = __ddiv_rn(c0, (double)n);
            c1 = __ddiv_rn(c1, (double)n);
            c2 = __ddiv_rn(c2, (double)n);
            double df = __dsub_rn(qc0, c0), dr = __dsub_rn(qc1, c1), dc = __dsub_rn(qc2, c2);
            double dist = __dadd_rn(__dadd_rn(__dmul_rn(df, df), __dmul_rn(dr, dr)), __dmul_rn(dc, dc));
            kj = (unsigned long long)__double_as_longlong(dist);   // ≥ 0: the bit pattern orders as the value
        }
        key[j] = kj;
        idx[j] = (uint32_t)j;
    }
    __syncthreads();
    ap::bitonic_sort(key, idx, n2);
    for (int i = threadIdx.x; i < nk; i += blockDim.x) p.out[(long long)qt * nk + i] = (int)idx[i];
}
