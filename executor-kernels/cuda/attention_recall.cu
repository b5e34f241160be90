// attention_recall.cu: the exact recall of a sparse attention call on sampled heads (issue 5's "exact
// recall on request through a second dense pass"). For query row i of head h:
//   recall_i = Σ_{j in kept kv-tiles of i's q-tile} exp(s_ij − m_i) / Σ_{j < L} exp(s_ij − m_i),
//   s_ij = scale · q_i · k_j over bf16 q, k [B, L, H, D], m_i the running row max,
// keep = the call's flags [B, H, ceil(L/br), ceil(L/bc)] (1 = kept; 0 skipped in the loop, 2 before QKᵀ), br 64 or 128.
// Java twin: io.sparserender.engine.attention.ExactRecall.rowRecalls over DenseReference (float64).
// Test: AttentionRecallGpuTest. A measurement path, not the hot one: fp32 dot products on the CUDA cores
// (at L = 27,280, 4 heads, D = 128: 0.76 TFLOP ≈ 40–60 ms; it runs once per policy, outside the timing).
// Launch: grid (ceil(ceil(L/64) / q_stride), B·nh) flattened, 256 threads, dynamic smem (64 + 32)·D·2 bytes.
// CTA = one q-tile of 64 rows of one (b, sampled head); keys walked in chunks of 32 (a policy tile of
// bc = 32 or 64 is one or two chunks); 4 threads per row, 8 keys each, row sums reduced by shuffles.
#include <stdint.h>
#include <cuda_bf16.h>

namespace arc {

struct RecallParams {
    const __nv_bfloat16* q;      // [B, L, H, D]
    const __nv_bfloat16* k;      // [B, L, H, D]
    const unsigned int* keep;    // [B, H, nq, nk]
    const int* sampled;          // nh head indices
    float* recall;               // [B, nh, L]
    int batch;
    int seq_len;
    int heads;
    int head_dim;
    int bc;
    int nh;
    float scale;
    int br;                      // the keep flags' q-tile height (64 or 128: a multiple of ROWS)
    int q_stride;                // rows of q-tiles t·q_stride only (64 rows each; 1: every row); the others are not written
};

constexpr int ROWS = 64, CHUNK = 32, THREADS = 256;

}  // namespace arc

extern "C" __global__ void __launch_bounds__(arc::THREADS) attention_recall(arc::RecallParams p) {
    extern __shared__ __align__(16) unsigned char smem_recall[];
    const int D = p.head_dim, L = p.seq_len, H = p.heads;
    __nv_bfloat16* sq = reinterpret_cast<__nv_bfloat16*>(smem_recall);   // [64][D]
    __nv_bfloat16* sk = sq + arc::ROWS * D;                              // [32][D]
    const int nq = (L + arc::ROWS - 1) / arc::ROWS, nk = (L + p.bc - 1) / p.bc;
    const int nqs = (nq + p.q_stride - 1) / p.q_stride;                   // sampled q-tiles
    const int qt = (blockIdx.x % nqs) * p.q_stride, bs = blockIdx.x / nqs;
    const int b = bs / p.nh, hs = bs % p.nh, h = p.sampled[hs];
    const int r0 = qt * arc::ROWS;
    const long long row_stride = (long long)H * D;
    const __nv_bfloat16* q = p.q + ((long long)b * L * H + h) * D;
    const __nv_bfloat16* k = p.k + ((long long)b * L * H + h) * D;
    const int nqk = (L + p.br - 1) / p.br;                                // q-tiles of the keep flags
    const unsigned int* keep = p.keep + (((long long)b * H + h) * nqk + r0 / p.br) * nk;

    for (int idx = threadIdx.x; idx < arc::ROWS * D; idx += arc::THREADS) {
        int r = idx / D, d = idx % D;
        sq[idx] = r0 + r < L ? q[(long long)(r0 + r) * row_stride + d] : __float2bfloat16(0.f);
    }
    const int row = threadIdx.x >> 2, part = threadIdx.x & 3;   // 4 consecutive lanes per row
    float m = -INFINITY, total = 0.f, kept = 0.f;
    for (int c0 = 0; c0 < L; c0 += arc::CHUNK) {
        __syncthreads();
        for (int idx = threadIdx.x; idx < arc::CHUNK * D; idx += arc::THREADS) {
            int r = idx / D, d = idx % D;
            sk[idx] = c0 + r < L ? k[(long long)(c0 + r) * row_stride + d] : __float2bfloat16(0.f);
        }
        __syncthreads();
        float s[8];
        #pragma unroll
        for (int c = 0; c < 8; c++) s[c] = 0.f;
        for (int d = 0; d < D; d++) {
            float qv = __bfloat162float(sq[row * D + d]);
            #pragma unroll
            for (int c = 0; c < 8; c++) s[c] = fmaf(qv, __bfloat162float(sk[(part * 8 + c) * D + d]), s[c]);
        }
        const bool tile_kept = keep[c0 / p.bc] == 1u;
        float mx = -INFINITY;
        #pragma unroll
        for (int c = 0; c < 8; c++) {
            s[c] = c0 + part * 8 + c < L ? s[c] * p.scale : -INFINITY;
            mx = fmaxf(mx, s[c]);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float mn = fmaxf(m, mx);              // finite: chunk c0 < L has at least one key < L
        const float corr = expf(m - mn);            // m = −inf on the first chunk: 0
        float e = 0.f;
        #pragma unroll
        for (int c = 0; c < 8; c++) e += expf(s[c] - mn);
        e += __shfl_xor_sync(0xffffffffu, e, 1);
        e += __shfl_xor_sync(0xffffffffu, e, 2);
        total = total * corr + e;
        kept = kept * corr + (tile_kept ? e : 0.f);
        m = mn;
    }
    if (part == 0 && r0 + row < L) {
        p.recall[((long long)b * p.nh + hs) * L + r0 + row] = kept / total;
    }
}
