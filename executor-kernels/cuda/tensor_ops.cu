// tensor_ops.cu: the layout and elementwise kernels behind the CUDA backend of the model's Ops
// interface (io.sparserender.engine.gpu.CudaOps). fp32 math; each buffer is float32 or bf16 (a dtype
// flag per operand), rounded once on store. Java twins: io.sparserender.engine.ops.CpuOps (the float32
// reference: permute, slice, concat, add/sub/mul with broadcasting, addScalar, scale, silu, geluTanh; embedding's
// gather: ops.Gather.rows)
// and, for the fused ones, the compositions in io.sparserender.engine.ops.Ops' default methods run on
// CpuOps (adaLayerNorm, layerNormForProduct, rope, rmsNormRope). Test: CudaOpsGpuTest.
//
// Structs and loads/stores: tensor_ops.cuh. Strided operands: an operand is (pointer, dtype, element offset, one stride per output dimension);
// a broadcast dimension has stride 0. Launch: grid-stride over the n output elements.
#include "tensor_ops.cuh"

namespace tops {

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

__device__ void gather_rows(const GatherParams& p) {
    const long long n = p.rows * p.cols;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        long long r = i / p.cols, c = i - r * p.cols;
        p.out[i] = load(p.table, p.table_bf16, (long long)p.ids[r] * p.cols + c);
    }
}

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
        float av = p.a != nullptr ? load(p.a, p.a_bf16, ia) : 0.f;
        float cv = p.c != nullptr ? load(p.c, p.c_bf16, ic) : 1.f;
        float r = axpy_one(p, av, load(p.b, p.b_bf16, ib), cv);
        store(p.out, p.out_bf16, i, r);
    }
}

__device__ void unary(const UnaryParams& p) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.n; i += (long long)gridDim.x * blockDim.x) {
        float r = unary_one(p, load(p.x, p.x_bf16, i));
        store(p.out, p.out_bf16, i, r);
    }
}

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
extern "C" __global__ void tensor_gather_rows(const tops::GatherParams p) { tops::gather_rows(p); }
extern "C" __global__ void tensor_broadcast_axpy(const tops::AxpyParams p) { tops::broadcast_axpy(p); }
extern "C" __global__ void tensor_unary(const tops::UnaryParams p) { tops::unary(p); }
extern "C" __global__ void tensor_ada_layer_norm(const tops::AdaLnParams p) { tops::ada_layer_norm(p); }
extern "C" __global__ void tensor_rope(const tops::RopeParams p) { tops::rope(p); }
extern "C" __global__ void tensor_rms_norm_rope(const tops::RmsNormRopeParams p) { tops::rms_norm_rope(p); }
extern "C" __global__ void tensor_linear_f32(const tops::LinearF32Params p) { tops::linear_f32(p); }
