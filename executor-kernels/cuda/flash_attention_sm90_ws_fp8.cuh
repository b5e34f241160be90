// flash_attention_sm90_ws_fp8.cuh: what the 8-bit attention kernels share (flash_attention_sm90_ws_fp8.cu, dense): the
// s8 and e4m3 wgmma wrappers, P to E4M3 in the A fragment's slot order, and the QKᵀ accumulator offset by 1.5·2²³'s
// bits. All kernel files are #included into one translation unit by build-fatbin.sh: everything here is inline.
#pragma once
#include <stdint.h>

namespace fa90ws8 {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

__device__ __forceinline__ void wgmma_ss_s8(int* d, uint64_t da, uint64_t db, int acc) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, p;\n}\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
        : "l"(da), "l"(db), "r"(acc));
}

__device__ __forceinline__ void wgmma_rs_e4m3(float* d, const uint32_t* a, uint64_t db) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, {%64,%65,%66,%67}, %68, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
}

// Four floats as E4M3 codes in one register, the first in the low byte (round to nearest even, saturating).
__device__ __forceinline__ uint32_t e4m3x4(float a, float b, float c, float d) {
    uint16_t lo, hi;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(lo) : "f"(b), "f"(a));
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(hi) : "f"(d), "f"(c));
    return (uint32_t)lo | ((uint32_t)hi << 16);
}

// One 32-key chunk of P (the S fragment after the exps, x = its 16 values in this thread) as a k-step of the PV
// product's A operand: lane t of a quad holds keys 2t, 2t + 1, 8 + 2t, 9 + 2t (+ 16) of rows g and g + 8, in the
// slots Vᵀ's permuted chunk puts those keys (attention_fp8_quantize.cu's slot_of_key).
__device__ __forceinline__ void pack_chunk(const float* x, uint32_t* a) {
    a[0] = e4m3x4(x[0], x[1], x[4], x[5]);
    a[1] = e4m3x4(x[2], x[3], x[6], x[7]);
    a[2] = e4m3x4(x[8], x[9], x[12], x[13]);
    a[3] = e4m3x4(x[10], x[11], x[14], x[15]);
}

// A 128-key block of P: four chunks.
__device__ __forceinline__ void pack_p(const float* s, uint32_t (*pa)[4]) {
    #pragma unroll
    for (int kb = 0; kb < 4; kb++) pack_chunk(s + 16 * kb, pa[kb]);
}

// 12582912 = 1.5 · 2^23: as float bits, MAGIC_BITS + n is the float 12582912 + n for |n| < 2^22, so a QKᵀ accumulator
// that starts at MAGIC_BITS holds each score as a float with no conversion (|S| ≤ 128 · 127² < 2^21).
constexpr int MAGIC_BITS = 0x4B400000;
constexpr float MAGIC_F = 12582912.f;

__device__ __forceinline__ void set_magic(int* si) {
    #pragma unroll
    for (int i = 0; i < 64; i++) si[i] = MAGIC_BITS;
}

__device__ __forceinline__ void fence_ints(int* r) {
    #pragma unroll
    for (int i = 0; i < 64; i++) asm volatile("" : "+r"(r[i])::"memory");
}

// The epilogue of a consumer thread's two rows (r0 + lr0, r0 + lr1; those not valid are skipped): O[:, d] · vs[d] / l
// into out [B, L, H, 128] at columns 8g + 2·t4 and + 1 (bf16 where out_bf16, else float32), and the log-sum-exp
// ln Σ e^(score · scale) = (m − 8) · ln 2 + ln l into lse [B·H, L] when asked. EMPTY_ROWS: a row with l = 0 (the
// listed kernel's empty list) gets zeros instead of 0 · ∞.
template <bool EMPTY_ROWS>
__device__ __forceinline__ void store_rows(void* out, int out_bf16, float* lse, const float* vs, const float* o,
                                           const float* m, const float* l, int b, int h, int bh, int H, int L, int r0,
                                           int lr0, int lr1, bool valid0, bool valid1, int t4) {
    constexpr int D = 128;
    const long long row_stride = (long long)H * D;
    const long long head_base = ((long long)b * L * H + h) * D;
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        if (!(r == 0 ? valid0 : valid1)) continue;
        const int row = r0 + (r == 0 ? lr0 : lr1);
        const float inv = EMPTY_ROWS ? (l[r] > 0.f ? 1.f / l[r] : 0.f) : 1.f / l[r];
        const long long at = head_base + (long long)row * row_stride + 2 * t4;
        #pragma unroll
        for (int g = 0; g < 16; g++) {
            const float2 sc = *reinterpret_cast<const float2*>(vs + g * 8 + 2 * t4);
            const float x0 = o[g * 4 + 2 * r] * inv * sc.x, x1 = o[g * 4 + 2 * r + 1] * inv * sc.y;
            if (out_bf16) {
                *reinterpret_cast<uint32_t*>(reinterpret_cast<__nv_bfloat16*>(out) + at + g * 8) = fa90::pack2(x0, x1);
            } else {
                *reinterpret_cast<float2*>(reinterpret_cast<float*>(out) + at + g * 8) = make_float2(x0, x1);
            }
        }
        if (lse != nullptr && t4 == 0) lse[(long long)bh * L + row] = (m[r] - 8.f) * 0.6931471805599453f + logf(l[r]);
    }
}

#endif

}  // namespace fa90ws8
