// softmax_rows.cu: softmax over each row of a [rows, cols] buffer, fp32 math (max subtracted):
//   y[r, c] = exp(x[r, c] - max_r) / sum_c' exp(x[r, c'] - max_r)
// x and y are float32 or bf16 (same dtype). Java twin: io.sparserender.engine.ops.reference.SoftmaxRows.
// Test: SoftmaxRowsGpuTest. Launch: one block per row, blockDim a multiple of 32 (256), any cols.
#include "common.cuh"

namespace {

template <bool BF16>
__device__ void softmax_rows(void* out, const void* x, long long rows, int cols) {
    __shared__ float scratch[32];
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        long long base = row * cols;
        float m = -INFINITY;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, sr::load_as_float<BF16>(x, base + c));
        m = sr::block_max(m, scratch);
        float s = 0.f;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) s += expf(sr::load_as_float<BF16>(x, base + c) - m);
        float inv = 1.f / sr::block_sum(s, scratch);
        for (int c = threadIdx.x; c < cols; c += blockDim.x)
            sr::store_from_float<BF16>(out, base + c, expf(sr::load_as_float<BF16>(x, base + c) - m) * inv);
    }
}

}  // namespace

extern "C" __global__ void softmax_rows_f32(void* out, const void* x, long long rows, int cols) { softmax_rows<false>(out, x, rows, cols); }
extern "C" __global__ void softmax_rows_bf16(void* out, const void* x, long long rows, int cols) { softmax_rows<true>(out, x, rows, cols); }
