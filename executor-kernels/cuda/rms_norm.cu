// rms_norm.cu: RMSNorm over the last dimension of a [rows, cols] buffer, fp32 math:
//   y = x / sqrt(mean(x^2) + eps) * weight       (weight float32 [cols], optional: 0 = none)
// x and y are float32 or bf16 (same dtype). Java twin: io.sparserender.engine.ops.reference.RmsNorm.
// Test: RmsNormGpuTest. Launch: one block per row, blockDim a multiple of 32 (256), any cols.
#include "common.cuh"

namespace {

struct RmsNormParams {
    void* out;            // [rows, cols], same dtype as x
    const void* x;        // [rows, cols]
    const float* weight;  // [cols] or null
    long long rows;
    int cols;
    float eps;
};

template <bool BF16>
__device__ void rms_norm(const RmsNormParams p) {
    __shared__ float scratch[32];
    for (long long row = blockIdx.x; row < p.rows; row += gridDim.x) {
        long long base = row * p.cols;
        float q = 0.f;
        for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
            float v = sr::load_as_float<BF16>(p.x, base + c);
            q += v * v;
        }
        float r = rsqrtf(sr::block_sum(q, scratch) / p.cols + p.eps);
        for (int c = threadIdx.x; c < p.cols; c += blockDim.x) {
            float v = sr::load_as_float<BF16>(p.x, base + c) * r;
            if (p.weight) v *= p.weight[c];
            sr::store_from_float<BF16>(p.out, base + c, v);
        }
    }
}

}  // namespace

extern "C" __global__ void rms_norm_f32(const RmsNormParams p) { rms_norm<false>(p); }
extern "C" __global__ void rms_norm_bf16(const RmsNormParams p) { rms_norm<true>(p); }
