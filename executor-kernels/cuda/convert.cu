// convert.cu: float32 <-> bf16, round to nearest even (NaN stays NaN).
// Java twin: io.sparserender.engine.ops.reference.Convert (HalfFloats). Test: ConvertGpuTest.
// Launch: grid-stride over n elements, any n.
#include "common.cuh"

extern "C" __global__ void convert_f32_to_bf16(__nv_bfloat16* __restrict__ out, const float* __restrict__ in, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16_rn(in[i]);
}

extern "C" __global__ void convert_bf16_to_f32(float* __restrict__ out, const __nv_bfloat16* __restrict__ in, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = __bfloat162float(in[i]);
}
