// fill.cu: set every element of a buffer to one bit pattern.
// Used to poison output buffers before a kernel runs, so tests can check that every element was written.
// Java twin: java.util.Arrays.fill. Launch: grid-stride, any n.
#include <stdint.h>

extern "C" __global__ void fill_u32(uint32_t* __restrict__ out, uint32_t value, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        out[i] = value;
    }
}

extern "C" __global__ void fill_u16(uint16_t* __restrict__ out, uint16_t value, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        out[i] = value;
    }
}
