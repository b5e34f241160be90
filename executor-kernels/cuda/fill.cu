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

// Uniform random bf16 values in [lo, hi) from a counter-based hash of (seed, index): benchmarks fill
// large operands on the device instead of copying them from the host. Not a statistical RNG.
extern "C" __global__ void fill_uniform_bf16(uint16_t* __restrict__ out, unsigned long long seed, float lo, float hi, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        unsigned long long z = seed + 0x9E3779B97F4A7C15ull * (unsigned long long)(i + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        float u = (float)(z >> 40) * (1.0f / 16777216.0f);
        float v = lo + (hi - lo) * u;
        uint32_t bits = __float_as_uint(v);
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        out[i] = (uint16_t)(bits >> 16);
    }
}
