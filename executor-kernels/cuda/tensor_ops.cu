// tensor_ops.cu: the layout and elementwise kernels behind the CUDA backend of the model's Ops
// interface (io.sparserender.engine.gpu.CudaOps). fp32 math; each buffer is float32 or bf16 (a dtype
// flag per operand), rounded once on store. Java twins: io.sparserender.engine.ops.CpuOps (the float32
// reference: permute, slice, concat, add/sub/mul with broadcasting, addScalar, scale, silu, geluTanh)
// and, for the fused ones, the compositions in io.sparserender.engine.ops.Ops' default methods run on
// CpuOps (adaLayerNorm, layerNormForProduct, rope, rmsNormRope). Test: CudaOpsGpuTest.
//
// Strided operands: an operand is (pointer, dtype, element offset, one stride per output dimension);
// a broadcast dimension has stride 0. Launch: grid-stride over the n output elements.
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

__device__ void strided_copy(const CopyParams& p) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.n; i += (long long)gridDim.x * blockDim.x) {
        long long rest = i, so = p.src_offset, d = p.dst_offset;
        for (int k = p.rank - 1; k >= 0; k--) {
            long long c = rest % p.shape[k];
            rest /= p.shape[k];
            so += c * p.src_stride[k];
            d += c * p.dst_stride[k];
        }
        store(p.dst, p.dst_bf16, d, load(p.src, p.src_bf16, so));
    }
}

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

__device__ void broadcast_axpy(const AxpyParams& p) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.n; i += (long long)gridDim.x * blockDim.x) {
        long long rest = i, ia = 0, ib = 0, ic = 0;
        for (int k = p.rank - 1; k >= 0; k--) {
            long long x = rest % p.shape[k];
            rest /= p.shape[k];
            ia += x * p.a_stride[k];
            ib += x * p.b_stride[k];
            ic += x * p.c_stride[k];
        }
        float bv = load(p.b, p.b_bf16, ib);
        float r;
        if (p.c != nullptr) {
            float prod = bv * load(p.c, p.c_bf16, ic);
            r = p.a != nullptr ? load(p.a, p.a_bf16, ia) + prod : prod;
        } else if (p.s == -1.f) {
            r = load(p.a, p.a_bf16, ia) - bv;
        } else {
            r = p.a != nullptr ? load(p.a, p.a_bf16, ia) + p.s * bv : p.s * bv;
        }
        store(p.out, p.out_bf16, i, r);
    }
}

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

__device__ void unary(const UnaryParams& p) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.n; i += (long long)gridDim.x * blockDim.x) {
        float v = load(p.x, p.x_bf16, i), r;
        switch (p.op) {
            case 0:
                r = p.add == 0.f ? v * p.mul : (p.mul == 1.f ? v + p.add : v * p.mul + p.add);
                break;
            case 1:
                r = v / (1.f + expf(-v));
                break;
            case 2: {
                float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
                r = 0.5f * v * (1.f + tanhf(u));
                break;
            }
            default:
                r = fminf(fmaxf(v, p.mul), p.add);
                break;
        }
        store(p.out, p.out_bf16, i, r);
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

__device__ void ada_layer_norm(const AdaLnParams& p) {
    __shared__ float scratch[32];
    for (long long row = blockIdx.x; row < p.rows; row += gridDim.x) {
        long long base = row * p.cols;
        float s = 0.f;
        for (int c = threadIdx.x; c < p.cols; c += blockDim.x) s += load(p.x, p.x_bf16, base + c);
        float mean = sr::block_sum(s, scratch) / p.cols;
        float q = 0.f;
        for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
            float d = load(p.x, p.x_bf16, base + c) - mean;
            q += d * d;
        }
        float rstd = rsqrtf(sr::block_sum(q, scratch) / p.cols + p.eps);
        long long b = row / p.rows_per_sample, l = row % p.rows_per_sample;
        long long mbase = (b * p.mod_rows + (p.mod_rows == 1 ? 0 : l)) * p.cols;
        for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
            float n = (load(p.x, p.x_bf16, base + c) - mean) * rstd;
            if (p.gamma != nullptr) n *= p.gamma[c];
            if (p.beta != nullptr) n += p.beta[c];
            float r = p.scale == nullptr ? n
                    : (n + n * load(p.scale, p.mod_bf16, mbase + c)) + load(p.shift, p.mod_bf16, mbase + c);
            store(p.out, p.out_bf16, base + c, r);
        }
    }
}

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

__device__ void rope(const RopeParams& p) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.pairs; i += (long long)gridDim.x * blockDim.x) {
        int j = (int)(i % p.half);
        long long l = (i / p.half / p.heads) % p.seq_len;
        float a = load(p.x, p.x_bf16, 2 * i), b = load(p.x, p.x_bf16, 2 * i + 1);
        float cs = p.cos[l * p.half + j], sn = p.sin[l * p.half + j];
        store(p.out, p.out_bf16, 2 * i, a * cs - b * sn);
        store(p.out, p.out_bf16, 2 * i + 1, a * sn + b * cs);
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

__device__ void rms_norm_rope(const RmsNormRopeParams& p) {
    __shared__ float scratch[32];
    const int pairs = p.cols / 2;
    for (long long row = blockIdx.x; row < p.rows; row += gridDim.x) {
        long long base = row * p.cols;
        float q = 0.f;
        for (int c = threadIdx.x; c < pairs; c += blockDim.x) {
            float2 v = load_pair(p.x, p.x_bf16, base + 2 * c);
            q += v.x * v.x + v.y * v.y;
        }
        float r = rsqrtf(sr::block_sum(q, scratch) / p.cols + p.eps);
        const float* cs = p.cos + (row % p.seq_len) * p.half;
        const float* sn = p.sin + (row % p.seq_len) * p.half;
        for (int c = threadIdx.x; c < pairs; c += blockDim.x) {
            float2 v = load_pair(p.x, p.x_bf16, base + 2 * c);
            float a = v.x * r, b = v.y * r;
            if (p.gamma != nullptr) {
                a *= p.gamma[2 * c];
                b *= p.gamma[2 * c + 1];
            }
            int j = c % p.half;
            float co = cs[j], si = sn[j];
            store_pair(p.out, p.out_bf16, base + 2 * c, a * co - b * si, a * si + b * co);
        }
    }
}

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

__device__ void linear_f32(const LinearF32Params& p) {
    const int lane = threadIdx.x & 31;
    const long long warps = (long long)gridDim.x * (blockDim.x >> 5);
    for (long long e = blockIdx.x * (long long)(blockDim.x >> 5) + (threadIdx.x >> 5); e < (long long)p.m * p.n; e += warps) {
        long long r = e / p.n, c = e % p.n;
        float acc = 0.f;
        for (int i = lane; i < p.k; i += 32) acc += load(p.x, p.x_bf16, r * p.k + i) * load(p.w, p.w_bf16, c * p.k + i);
        acc = sr::warp_sum(acc);
        if (lane == 0) p.out[e] = acc + (p.bias != nullptr ? p.bias[c] : 0.f);
    }
}

}  // namespace tops

extern "C" __global__ void tensor_strided_copy(const tops::CopyParams p) { tops::strided_copy(p); }
extern "C" __global__ void tensor_broadcast_axpy(const tops::AxpyParams p) { tops::broadcast_axpy(p); }
extern "C" __global__ void tensor_unary(const tops::UnaryParams p) { tops::unary(p); }
extern "C" __global__ void tensor_ada_layer_norm(const tops::AdaLnParams p) { tops::ada_layer_norm(p); }
extern "C" __global__ void tensor_rope(const tops::RopeParams p) { tops::rope(p); }
extern "C" __global__ void tensor_rms_norm_rope(const tops::RmsNormRopeParams p) { tops::rms_norm_rope(p); }
extern "C" __global__ void tensor_linear_f32(const tops::LinearF32Params p) { tops::linear_f32(p); }
