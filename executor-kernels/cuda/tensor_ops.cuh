// tensor_ops.cuh: the parameter structs and the dtype-flagged loads and stores shared by tensor_ops.cu
// (the general strided kernels) and tensor_ops_vec.cu (their vectorised forms for aligned contiguous rows).
// Each buffer is float32 or bf16 (a dtype flag per operand); math in fp32, rounded once on store.
#pragma once
#include "common.cuh"

namespace tops {

constexpr int MAX_RANK = 8;

__device__ __forceinline__ float load(const void* p, int bf16, long long i) {
    return bf16 ? __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(p)[i]) : reinterpret_cast<const float*>(p)[i];
}

__device__ __forceinline__ void store(void* p, int bf16, long long i, float v) {
    if (bf16) {
        reinterpret_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
    } else {
        reinterpret_cast<float*>(p)[i] = v;
    }
}

// Elements i and i + 1 (i even) of a float32 or bf16 buffer whose base is 8-byte aligned.
__device__ __forceinline__ float2 load_pair(const void* p, int bf16, long long i) {
    if (bf16) return __bfloat1622float2(reinterpret_cast<const __nv_bfloat162*>(p)[i >> 1]);
    return reinterpret_cast<const float2*>(p)[i >> 1];
}

__device__ __forceinline__ void store_pair(void* p, int bf16, long long i, float a, float b) {
    if (bf16) {
        reinterpret_cast<__nv_bfloat162*>(p)[i >> 1] = __floats2bfloat162_rn(a, b);
    } else {
        reinterpret_cast<float2*>(p)[i >> 1] = make_float2(a, b);
    }
}

// dst[dst_offset + Σ i_d·dst_stride_d] = src[src_offset + Σ i_d·src_stride_d] for every index i of shape.
// Covers permute, slice, concat (one launch per part into the output's strided window) and dtype conversion.
struct CopyParams {
    void* dst;
    const void* src;
    long long n;
    long long dst_offset;
    long long src_offset;
    long long dst_stride[MAX_RANK];
    long long src_stride[MAX_RANK];
    int shape[MAX_RANK];
    int rank;
    int dst_bf16;
    int src_bf16;
};

// out[r, c] = table[ids[r], c] in float32, out [rows, cols] contiguous, table [V, cols] float32 or bf16; ids are
// checked against V on the host. Ops.embedding (the umT5 relative-position bias); Java twin: ops.Gather.rows.
struct GatherParams {
    float* out;
    const void* table;
    const int* ids;
    long long rows;
    int cols;
    int table_bf16;
};

// out = (a ? a : 0) + s·b·(c ? c : 1), out contiguous of `shape`, a/b/c strided (broadcast = stride 0).
// add: a + 1·b; sub: a + (−1)·b; mul: 1·b·c; gated residual: a + b·c.
struct AxpyParams {
    void* out;
    const void* a;
    const void* b;
    const void* c;
    long long n;
    long long a_stride[MAX_RANK];
    long long b_stride[MAX_RANK];
    long long c_stride[MAX_RANK];
    int shape[MAX_RANK];
    int rank;
    int out_bf16;
    int a_bf16;
    int b_bf16;
    int c_bf16;
    float s;
};

// out = f(x) over contiguous buffers: op 0 = x·mul + add (scale, addScalar, dtype conversion),
// 1 = SiLU, 2 = GELU(tanh), 3 = clamp to [mul, add].
struct UnaryParams {
    void* out;
    const void* x;
    long long n;
    int op;
    int out_bf16;
    int x_bf16;
    float mul;
    float add;
};

// One element of broadcast_axpy from its operands' values (a = 0 and c = 1 where absent).
__device__ __forceinline__ float axpy_one(const AxpyParams& p, float a, float b, float c) {
    if (p.c != nullptr) {
        float prod = b * c;
        return p.a != nullptr ? a + prod : prod;
    }
    if (p.s == -1.f) return a - b;
    return p.a != nullptr ? a + p.s * b : p.s * b;
}

// One element of unary. GELU(tanh) as x·sigmoid(2u), the same function as 0.5·x·(1 + tanh(u)) with
// u = √(2/π)(x + 0.044715x³), in fewer instructions: __expf's relative error (~1e-6 at |2u| ≤ 25) is below
// fp32 tolerance, and where exp(−2u) overflows the quotient is the 0 that 1 + tanh(u) gives in float.
__device__ __forceinline__ float unary_one(const UnaryParams& p, float v) {
    switch (p.op) {
        case 0:
            return p.add == 0.f ? v * p.mul : (p.mul == 1.f ? v + p.add : v * p.mul + p.add);
        case 1:
            return v / (1.f + expf(-v));
        case 2: {
            float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
            return __fdividef(v, 1.f + __expf(-2.f * u));
        }
        default:
            return fminf(fmaxf(v, p.mul), p.add);
    }
}

// LayerNorm with its output in any dtype (bf16 for a GEMM operand): n = (x − mean)·rstd (biased
// variance), then n·gamma + beta where given (the affine LayerNorm), then, where shift and scale are given
// (both or neither), the DiT's adaptive modulation out = (n + n·scale) + shift, in that order (the
// reference model's modulate), with shift and scale [B, M, cols] where M = 1 (one timestep per sample) or
// M = rows per sample (one per token).
struct AdaLnParams {
    void* out;
    const void* x;          // [B·L, cols]
    const void* shift;      // [B, M, cols] or null
    const void* scale;      // [B, M, cols] or null
    const float* gamma;     // [cols] or null
    const float* beta;      // [cols] or null
    long long rows;         // B·L
    long long rows_per_sample;  // L
    long long mod_rows;     // M: 1 or L
    int cols;
    float eps;
    int out_bf16;
    int x_bf16;
    int mod_bf16;
};

// Rotary embedding of interleaved pairs: x [B, L, H, D], cos/sin float32 [L, D/2];
// (a, b) -> (a·cos − b·sin, a·sin + b·cos). One thread per pair.
struct RopeParams {
    void* out;
    const void* x;
    const float* cos;
    const float* sin;
    long long pairs;   // B·L·H·D/2
    int seq_len;
    int heads;
    int half;          // D/2
    int out_bf16;
    int x_bf16;
};

// The DiT's self-attention q and k in one pass: RMSNorm over each row's whole width (H·D, as Wan
// normalises before splitting heads) times gamma, then the rotary embedding of interleaved pairs per head,
// (a, b) -> (a·cos − b·sin, a·sin + b·cos), cos/sin float32 [L, D/2]. One block per row; out may be x
// (the row's sum is complete before any store, and each thread stores only the pairs it loaded).
struct RmsNormRopeParams {
    void* out;              // [B·L, H·D]
    const void* x;          // [B·L, H·D]
    const float* gamma;     // [H·D] or null
    const float* cos;       // [L, D/2]
    const float* sin;       // [L, D/2]
    long long rows;         // B·L
    long long seq_len;      // L
    int cols;               // H·D, even
    int half;               // D/2
    float eps;
    int out_bf16;
    int x_bf16;
};

// out[M, N] = x[M, K] · w[N, K]ᵀ (+ bias[N]) in fp32 on the CUDA cores: the small-M products
// (time embeddings) that the reference keeps in float32. One warp per output element.
struct LinearF32Params {
    float* out;
    const void* x;
    const void* w;
    const float* bias;   // or null
    int m;
    int n;
    int k;
    int x_bf16;
    int w_bf16;
};

}  // namespace tops
