// elementwise.cu: add, scale, SiLU and GELU(tanh) over flat buffers, fp32 math, float32 or bf16
// storage (the result is rounded once, on store).
// Java twin: io.sparserender.engine.ops.reference.Elementwise. Test: ElementwiseGpuTest.
// Launch: grid-stride over n elements, any n; out may alias an input.
#include "common.cuh"

namespace {

template <bool BF16>
__device__ void ew_add(void* out, const void* a, const void* b, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        sr::store_from_float<BF16>(out, i, sr::load_as_float<BF16>(a, i) + sr::load_as_float<BF16>(b, i));
}

template <bool BF16>
__device__ void ew_scale(void* out, const void* x, float s, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        sr::store_from_float<BF16>(out, i, sr::load_as_float<BF16>(x, i) * s);
}

// silu(x) = x / (1 + exp(-x))
template <bool BF16>
__device__ void ew_silu(void* out, const void* x, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float v = sr::load_as_float<BF16>(x, i);
        sr::store_from_float<BF16>(out, i, v / (1.f + expf(-v)));
    }
}

// gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
template <bool BF16>
__device__ void ew_gelu_tanh(void* out, const void* x, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float v = sr::load_as_float<BF16>(x, i);
        float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
        sr::store_from_float<BF16>(out, i, 0.5f * v * (1.f + tanhf(u)));
    }
}

}  // namespace

extern "C" __global__ void elementwise_add_f32(void* out, const void* a, const void* b, long long n) { ew_add<false>(out, a, b, n); }
extern "C" __global__ void elementwise_add_bf16(void* out, const void* a, const void* b, long long n) { ew_add<true>(out, a, b, n); }
extern "C" __global__ void elementwise_scale_f32(void* out, const void* x, float s, long long n) { ew_scale<false>(out, x, s, n); }
extern "C" __global__ void elementwise_scale_bf16(void* out, const void* x, float s, long long n) { ew_scale<true>(out, x, s, n); }
extern "C" __global__ void elementwise_silu_f32(void* out, const void* x, long long n) { ew_silu<false>(out, x, n); }
extern "C" __global__ void elementwise_silu_bf16(void* out, const void* x, long long n) { ew_silu<true>(out, x, n); }
extern "C" __global__ void elementwise_gelu_tanh_f32(void* out, const void* x, long long n) { ew_gelu_tanh<false>(out, x, n); }
extern "C" __global__ void elementwise_gelu_tanh_bf16(void* out, const void* x, long long n) { ew_gelu_tanh<true>(out, x, n); }
