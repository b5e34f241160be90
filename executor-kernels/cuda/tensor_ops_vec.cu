// tensor_ops_vec.cu: tensor_ops.cu's copy, elementwise and row kernels, four elements per load and store, for
// the large contiguous tensors of a DiT block (the residual update, GELU and the dtype conversion, the
// modulated LayerNorm, the q/k RMSNorm + RoPE) and of the VAE (its causal-conv cache concatenations). The scalar kernels do one element per thread with 64-bit
// index arithmetic per element and re-read each row for every pass; these read a row once into registers
// and do the index arithmetic once per four elements, so they run at memory speed.
//
// Same parameters (tensor_ops.cuh) and the same per-element math (axpy_one, unary_one) as the scalar
// kernels; the row reductions sum in another order (fp32 rounding differences only). Java twins: as for
// tensor_ops.cu. The launcher (io.sparserender.engine.gpu.VectorisedOps) takes this path only where every
// operand is aligned to four elements and the innermost dimension is a multiple of four; the rest goes to
// tensor_ops.cu. Test: CudaOpsGpuTest (shapes that take each path).
#include "tensor_ops.cuh"

namespace tops {

// Elements i .. i + 3 (i a multiple of 4) of a float32 (16-byte aligned) or bf16 (8-byte aligned) buffer.
__device__ __forceinline__ float4 load4(const void* p, int bf16, long long i) {
    if (bf16) {
        uint2 u = *reinterpret_cast<const uint2*>(reinterpret_cast<const __nv_bfloat16*>(p) + i);
        float2 lo = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.x));
        float2 hi = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.y));
        return make_float4(lo.x, lo.y, hi.x, hi.y);
    }
    return *reinterpret_cast<const float4*>(reinterpret_cast<const float*>(p) + i);
}

__device__ __forceinline__ void store4(void* p, int bf16, long long i, float4 v) {
    if (bf16) {
        __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
        uint2 u;
        u.x = *reinterpret_cast<unsigned*>(&lo);
        u.y = *reinterpret_cast<unsigned*>(&hi);
        *reinterpret_cast<uint2*>(reinterpret_cast<__nv_bfloat16*>(p) + i) = u;
    } else {
        *reinterpret_cast<float4*>(reinterpret_cast<float*>(p) + i) = v;
    }
}

// An operand's four values at i: a vector load, or one value four times where the innermost stride is 0.
__device__ __forceinline__ float4 load4_or_broadcast(const void* p, int bf16, long long i, bool broadcast) {
    if (broadcast) {
        float v = load(p, bf16, i);
        return make_float4(v, v, v, v);
    }
    return load4(p, bf16, i);
}

// broadcast_axpy, four output elements per step: n < 2³¹ and shape[rank − 1] % 4 == 0, every operand's
// innermost stride 0 or 1 and, where 1, its other strides multiples of 4 and its base aligned (host-checked).
__device__ void broadcast_axpy_vec4(const AxpyParams& p) {
    const unsigned n4 = (unsigned)(p.n >> 2);
    const int inner = p.rank - 1;
    const bool a0 = p.a_stride[inner] == 0, b0 = p.b_stride[inner] == 0, c0 = p.c_stride[inner] == 0;
    for (unsigned q = blockIdx.x * blockDim.x + threadIdx.x; q < n4; q += gridDim.x * blockDim.x) {
        unsigned rest = q << 2;
        long long ia = 0, ib = 0, ic = 0;
        for (int k = inner; k >= 0; k--) {
            unsigned x = rest % (unsigned)p.shape[k];
            rest /= (unsigned)p.shape[k];
            ia += x * p.a_stride[k];
            ib += x * p.b_stride[k];
            ic += x * p.c_stride[k];
        }
        float4 a = p.a != nullptr ? load4_or_broadcast(p.a, p.a_bf16, ia, a0) : make_float4(0.f, 0.f, 0.f, 0.f);
        float4 c = p.c != nullptr ? load4_or_broadcast(p.c, p.c_bf16, ic, c0) : make_float4(1.f, 1.f, 1.f, 1.f);
        float4 b = load4_or_broadcast(p.b, p.b_bf16, ib, b0);
        float4 r = make_float4(axpy_one(p, a.x, b.x, c.x), axpy_one(p, a.y, b.y, c.y), axpy_one(p, a.z, b.z, c.z),
                               axpy_one(p, a.w, b.w, c.w));
        store4(p.out, p.out_bf16, (long long)q << 2, r);
    }
}

// strided_copy, four elements per step: n < 2³¹, shape[rank − 1] % 4 == 0 with stride 1 on both sides, the
// other strides and both offsets multiples of 4, both bases aligned (host-checked). Concat, slice and the
// VAE's causal-conv cache are copies of this kind.
__device__ void strided_copy_vec4(const CopyParams& p) {
    const unsigned n4 = (unsigned)(p.n >> 2);
    for (unsigned q = blockIdx.x * blockDim.x + threadIdx.x; q < n4; q += gridDim.x * blockDim.x) {
        unsigned rest = q << 2;
        long long so = p.src_offset, d = p.dst_offset;
        for (int k = p.rank - 1; k >= 0; k--) {
            unsigned c = rest % (unsigned)p.shape[k];
            rest /= (unsigned)p.shape[k];
            so += c * p.src_stride[k];
            d += c * p.dst_stride[k];
        }
        store4(p.dst, p.dst_bf16, d, load4(p.src, p.src_bf16, so));
    }
}

// unary over n % 4 == 0 elements of aligned buffers; out may be x.
__device__ void unary_vec4(const UnaryParams& p) {
    const long long n4 = p.n >> 2;
    for (long long q = blockIdx.x * (long long)blockDim.x + threadIdx.x; q < n4; q += (long long)gridDim.x * blockDim.x) {
        float4 v = load4(p.x, p.x_bf16, q << 2);
        store4(p.out, p.out_bf16, q << 2,
               make_float4(unary_one(p, v.x), unary_one(p, v.y), unary_one(p, v.z), unary_one(p, v.w)));
    }
}

// ada_layer_norm with the row in registers: thread t holds the row's 4-element groups t, t + blockDim.x, ...
// (at most VPT of them; cols % 4 == 0, cols ≤ 4·VPT·blockDim.x, every operand aligned).
template <int VPT>
__device__ void ada_layer_norm_vec4(const AdaLnParams& p) {
    __shared__ float scratch[32];
    const int groups = p.cols >> 2;
    for (long long row = blockIdx.x; row < p.rows; row += gridDim.x) {
        const long long base = row * p.cols;
        float4 v[VPT];
        float s = 0.f;
#pragma unroll
        for (int k = 0; k < VPT; k++) {
            int g = threadIdx.x + k * blockDim.x;
            if (g < groups) {
                v[k] = load4(p.x, p.x_bf16, base + 4 * g);
                s += (v[k].x + v[k].y) + (v[k].z + v[k].w);
            }
        }
        const float mean = sr::block_sum(s, scratch) / p.cols;
        float q = 0.f;
#pragma unroll
        for (int k = 0; k < VPT; k++) {
            if (threadIdx.x + k * blockDim.x < groups) {
                float dx = v[k].x - mean, dy = v[k].y - mean, dz = v[k].z - mean, dw = v[k].w - mean;
                q += (dx * dx + dy * dy) + (dz * dz + dw * dw);
            }
        }
        const float rstd = rsqrtf(sr::block_sum(q, scratch) / p.cols + p.eps);
        const long long b = row / p.rows_per_sample, l = row % p.rows_per_sample;
        const long long mbase = (b * p.mod_rows + (p.mod_rows == 1 ? 0 : l)) * p.cols;
#pragma unroll
        for (int k = 0; k < VPT; k++) {
            int g = threadIdx.x + k * blockDim.x;
            if (g >= groups) continue;
            float n[4] = {(v[k].x - mean) * rstd, (v[k].y - mean) * rstd, (v[k].z - mean) * rstd, (v[k].w - mean) * rstd};
            if (p.gamma != nullptr) {
                float4 w = load4(p.gamma, 0, 4 * g);
                n[0] *= w.x; n[1] *= w.y; n[2] *= w.z; n[3] *= w.w;
            }
            if (p.beta != nullptr) {
                float4 w = load4(p.beta, 0, 4 * g);
                n[0] += w.x; n[1] += w.y; n[2] += w.z; n[3] += w.w;
            }
            if (p.scale != nullptr) {
                float4 sc = load4(p.scale, p.mod_bf16, mbase + 4 * g), sh = load4(p.shift, p.mod_bf16, mbase + 4 * g);
                n[0] = (n[0] + n[0] * sc.x) + sh.x;
                n[1] = (n[1] + n[1] * sc.y) + sh.y;
                n[2] = (n[2] + n[2] * sc.z) + sh.z;
                n[3] = (n[3] + n[3] * sc.w) + sh.w;
            }
            store4(p.out, p.out_bf16, base + 4 * g, make_float4(n[0], n[1], n[2], n[3]));
        }
    }
}

// rms_norm_rope with the row in registers: a 4-element group is two rotary pairs of one head (D % 4 == 0),
// whose cos and sin are two adjacent table entries; without tables (cos null) the RMSNorm alone, in x's dtype
// (rms_norm.cu's, vectorised). out may be x (every load precedes the first barrier).
template <int VPT>
__device__ void rms_norm_rope_vec4(const RmsNormRopeParams& p) {
    __shared__ float scratch[32];
    const int groups = p.cols >> 2;
    for (long long row = blockIdx.x; row < p.rows; row += gridDim.x) {
        const long long base = row * p.cols;
        float4 v[VPT];
        float q = 0.f;
#pragma unroll
        for (int k = 0; k < VPT; k++) {
            int g = threadIdx.x + k * blockDim.x;
            if (g < groups) {
                v[k] = load4(p.x, p.x_bf16, base + 4 * g);
                q += (v[k].x * v[k].x + v[k].y * v[k].y) + (v[k].z * v[k].z + v[k].w * v[k].w);
            }
        }
        const float r = rsqrtf(sr::block_sum(q, scratch) / p.cols + p.eps);
        const float* cs = p.cos == nullptr ? nullptr : p.cos + (row % p.seq_len) * p.half;
        const float* sn = p.sin == nullptr ? nullptr : p.sin + (row % p.seq_len) * p.half;
#pragma unroll
        for (int k = 0; k < VPT; k++) {
            int g = threadIdx.x + k * blockDim.x;
            if (g >= groups) continue;
            float a0 = v[k].x * r, b0 = v[k].y * r, a1 = v[k].z * r, b1 = v[k].w * r;
            if (p.gamma != nullptr) {
                float4 w = load4(p.gamma, 0, 4 * g);
                a0 *= w.x; b0 *= w.y; a1 *= w.z; b1 *= w.w;
            }
            if (p.cos == nullptr) {   // RMSNorm alone (Ops.rmsNorm: the cross-attention's q, the prompt's k)
                store4(p.out, p.out_bf16, base + 4 * g, make_float4(a0, b0, a1, b1));
                continue;
            }
            int j = (2 * g) % p.half;  // the first pair's index in its head (even)
            float2 co = *reinterpret_cast<const float2*>(cs + j), si = *reinterpret_cast<const float2*>(sn + j);
            store4(p.out, p.out_bf16, base + 4 * g,
                   make_float4(a0 * co.x - b0 * si.x, a0 * si.x + b0 * co.x, a1 * co.y - b1 * si.y, a1 * si.y + b1 * co.y));
        }
    }
}

}  // namespace tops

extern "C" __global__ void tensor_broadcast_axpy_vec4(const tops::AxpyParams p) { tops::broadcast_axpy_vec4(p); }
extern "C" __global__ void tensor_strided_copy_vec4(const tops::CopyParams p) { tops::strided_copy_vec4(p); }
extern "C" __global__ void tensor_unary_vec4(const tops::UnaryParams p) { tops::unary_vec4(p); }

#define TOPS_ROW_KERNELS(VPT)                                                                                         \
    extern "C" __global__ void tensor_ada_layer_norm_vec4x##VPT(const tops::AdaLnParams p) {                         \
        tops::ada_layer_norm_vec4<VPT>(p);                                                                            \
    }                                                                                                                 \
    extern "C" __global__ void tensor_rms_norm_rope_vec4x##VPT(const tops::RmsNormRopeParams p) {                    \
        tops::rms_norm_rope_vec4<VPT>(p);                                                                             \
    }
TOPS_ROW_KERNELS(1)
TOPS_ROW_KERNELS(2)
TOPS_ROW_KERNELS(3)
TOPS_ROW_KERNELS(4)
TOPS_ROW_KERNELS(6)
TOPS_ROW_KERNELS(8)
#undef TOPS_ROW_KERNELS
