// flash_attention_sm90.cuh: what the Hopper attention kernels share (flash_attention_sm90.cu: one
// warpgroup per CTA and the listed kernels; flash_attention_sm90_2wg.cu: two consumer warpgroups per
// CTA): the params struct (Java: CudaAttention.Params90), the wgmma wrappers, the 128-byte-swizzle
// layout and its descriptor, and the cp.async tile loaders. All files are #included into one
// translation unit by build-fatbin.sh: everything here is inline and guarded.
#pragma once
#include <stdint.h>
#include <cuda_bf16.h>

namespace fa90 {

constexpr int THREADS = 128;

struct Fa90Params {
    const __nv_bfloat16* q;      // [B, L, H, D]
    const __nv_bfloat16* k;      // [B, L, H, D]
    const __nv_bfloat16* vt;     // [B, H, D, vt_stride]
    float* out;                  // [B, L, H, D]; bf16 in the ws kernels where out_bf16 is set
    float* lse;                  // [B, H, L] or null
    unsigned int* keep;          // [B, H, q-tiles, kv-tiles] or null
    unsigned long long* stats;   // 3 counters
    int batch;
    int seq_len;
    int heads;
    int mode;
    float scale;
    float threshold;
    int vt_stride;
    int kv_len;                  // keys: rows of K and Vᵀ (= seq_len but in the ws dense kernel's cross-attention)
    int out_bf16;                // out is bf16 [B, L, H, D] (ws kernels only), else float32
};

// The listed kernels' params (see flash_attention.cu's FaListParams): 4 stats counters, keep flag 2 =
// not on the list. Shared by wg1's listed kernels and ws's (flash_attention_sm90_ws_list.cu).
struct Fa90ListParams {
    Fa90Params base;
    const int* list;
    const int* count;
    long long list_bh_stride;
};

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// acc = 0: D = A·B (D's old values ignored, no zeroing needed); 1: D += A·B.
__device__ __forceinline__ void wgmma_ss_n64(float* d, uint64_t da, uint64_t db, int acc = 1) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}, %32, %33, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(acc));
}

__device__ __forceinline__ void wgmma_rs_n64(float* d, const uint32_t* a, uint64_t db) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}, {%32,%33,%34,%35}, %36, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
}

__device__ __forceinline__ void wgmma_rs_n128(float* d, const uint32_t* a, uint64_t db) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, {%64,%65,%66,%67}, %68, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
}

__device__ __forceinline__ uint32_t swz128(int row, int chunk) {
    return (uint32_t)(row * 128 + ((chunk ^ (row & 7)) << 4));
}

__device__ __forceinline__ void cp16(uint32_t dst, const void* src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}

// Descriptor of a K-major, 128B-swizzled operand: 8-row atoms 1024 bytes apart (as gemm_bf16_sm90.cu).
__device__ __forceinline__ uint64_t desc128(uint32_t addr) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

// Rows [row0, row0 + 64) of a [rows][D] matrix (row stride in elements) into D/64 swizzled panels of
// 64 x 64; rows >= nrows are zero-filled.
// NT threads (tid 0 .. NT-1) share the copies.
template <int D, int NT = THREADS>
__device__ __forceinline__ void load_rows64(uint32_t smem, const __nv_bfloat16* g, long long row_stride, int row0, int nrows,
                                            int tid = threadIdx.x) {
    constexpr int CH = D / 8;
    static_assert(64 * CH % NT == 0, "whole copies per thread");
    #pragma unroll
    for (int i = 0; i < 64 * CH / NT; i++) {
        int idx = tid + i * NT;
        int r = idx / CH, c = idx % CH;
        int gr = row0 + r;
        bool ok = gr < nrows;
        cp16(smem + (c >> 3) * (64 * 128) + swz128(r, c & 7), g + (long long)(ok ? gr : 0) * row_stride + c * 8, ok ? 16 : 0);
    }
}

// Vᵀ block: D rows (d) x 64 keys from column l0 of a [D][stride] head slice; columns >= stride zero-filled.
// NT threads (tid 0 .. NT-1) share the copies.
template <int D, int NT = THREADS>
__device__ __forceinline__ void load_vt(uint32_t smem, const __nv_bfloat16* g, int stride, int l0, int tid = threadIdx.x) {
    static_assert(D * 8 % NT == 0, "whole copies per thread");
    #pragma unroll
    for (int i = 0; i < D * 8 / NT; i++) {
        int idx = tid + i * NT;
        int r = idx >> 3, c = idx & 7;
        int l = l0 + c * 8;
        bool ok = l < stride;
        cp16(smem + swz128(r, c), g + (long long)r * stride + (ok ? l : 0), ok ? 16 : 0);
    }
}

// 2^x with subnormal results flushed to 0: one MUFU.EX2 (exp2f adds a range check and two predicated multiplies
// per call to keep subnormals, which a bf16 P cannot hold anyway).
__device__ __forceinline__ float ex2_ftz(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// Pins N registers at this point of the program (CUTLASS's warpgroup_fence_operand): the compiler may not move
// their reads or writes across it, so reading a wgmma accumulator stays after the wgmma.wait_group before it.
template <int N>
__device__ __forceinline__ void fence_regs(float* r) {
    #pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(r[i])::"memory");
}

__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
}

#endif

}  // namespace fa90
