// layer_norm.cu: LayerNorm over the last dimension of a [rows, cols] buffer, fp32 math:
//   y = (x - mean) / sqrt(var + eps) * weight + bias   (var: biased, as torch.nn.LayerNorm)
// weight and bias (float32, [cols]) are optional (0 = none: the DiT's LN without affine).
// x and y are float32 or bf16 (same dtype). Java twin: io.sparserender.engine.ops.reference.LayerNorm.
// Test: LayerNormGpuTest. Launch: one block per row, blockDim a multiple of 32 (256), any cols.
#include "common.cuh"

namespace {

// One params struct per kernel family, passed by value.
struct LayerNormParams {
    void* out;            // [rows, cols], same dtype as x
    const void* x;        // [rows, cols]
    const float* weight;  // [cols] or null
    const float* bias;    // [cols] or null
    long long rows;
    int cols;
    float eps;
};

template <bool BF16>
__device__ void layer_norm(const LayerNormParams p) {
    __shared__ float scratch[32];
    for (long long row = blockIdx.x; row < p.rows; row += gridDim.x) {
        long long base = row * p.cols;
        float s = 0.f;
        for (int c = threadIdx.x; c < p.cols; c += blockDim.x) s += sr::load_as_float<BF16>(p.x, base + c);
        float mean = sr::block_sum(s, scratch) / p.cols;
        float q = 0.f;
        for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
            float d = sr::load_as_float<BF16>(p.x, base + c) - mean;
            q += d * d;
        }
        float rstd = rsqrtf(sr::block_sum(q, scratch) / p.cols + p.eps);
        for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
            float v = (sr::load_as_float<BF16>(p.x, base + c) - mean) * rstd;
            if (p.weight) v *= p.weight[c];
            if (p.bias) v += p.bias[c];
            sr::store_from_float<BF16>(p.out, base + c, v);
        }
    }
}

}  // namespace

extern "C" __global__ void layer_norm_f32(const LayerNormParams p) { layer_norm<false>(p); }
extern "C" __global__ void layer_norm_bf16(const LayerNormParams p) { layer_norm<true>(p); }
