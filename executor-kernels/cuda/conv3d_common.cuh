// conv3d_common.cuh: what the two conv3d kernels (conv3d_igemm.cu: mma.sync, every target;
// conv3d_igemm_sm90.cu: wgmma, sm_90a) share: the params struct, the weight packing, and the gather of
// the input patch (the A operand of the implicit GEMM). Host side: CudaVaeKernels (convParams mirrors
// Conv3dParams field for field). Index-math twin: io.sparserender.engine.ops.reference.Conv3dImplicitGemm.
#pragma once
#include "common.cuh"

namespace sr {

struct Conv3dParams {
    void* out;              // [O, T', H', W'], x's dtype
    const void* x;          // [C, T, H, W], float32 or bf16
    const uint16_t* wt;     // packed bf16 [O, CB, kt*kh*kw, 32] (conv3d_pack_weight_*)
    const float* bias;      // [O] or null
    long long x_chan;       // T*H*W: elements between two channels of x
    int m;                  // T'*H'*W': GEMM rows, and elements between two channels of out
    int c, h, w;            // x's channels, height, width
    int o, ho, wo;          // out's channels, height, width
    int kt, kh, kw;         // kernel
    int pad_h, pad_w;
    int cb;                 // ceil(C / 32)
};

struct Conv3dPackParams {
    uint16_t* out;          // [O, CB, taps, 32] bf16
    const void* w;          // [O, C, kt, kh, kw] float32 or bf16
    int o, c, taps, cb;
};

// The register type of gathered activations: bf16 bits, or float32 rounded when stored.
template <bool BF16> struct ConvRaw { using type = float; };
template <> struct ConvRaw<true> { using type = uint16_t; };

// Two gathered values as one bf16x2 word, the first in the low half (the lower address).
__device__ __forceinline__ uint32_t conv_pack2(uint16_t a, uint16_t b) {
    return (uint32_t)a | ((uint32_t)b << 16);
}

__device__ __forceinline__ uint32_t conv_pack2(float a, float b) {
    __nv_bfloat162 v = __floats2bfloat162_rn(a, b);  // .x = a (low half), .y = b
    return *reinterpret_cast<uint32_t*>(&v);
}

template <typename Raw>
__device__ __forceinline__ uint4 conv_pack8(const Raw* r) {
    uint4 v;
    v.x = conv_pack2(r[0], r[1]);
    v.y = conv_pack2(r[2], r[3]);
    v.z = conv_pack2(r[4], r[5]);
    v.w = conv_pack2(r[6], r[7]);
    return v;
}

// One gather thread of a block tile of 128 output positions: it owns output position m = row0 + row for
// the whole K loop (decoded once here) and the 8-channel chunks q and q + 2 of every 32-channel K-step.
// Steps run channel block outermost, then dt, dh, dw (the packed weight's order), advanced by counters.
template <bool X_BF16>
struct ConvGather {
    using Raw = typename ConvRaw<X_BF16>::type;
    const Raw* x;
    long long x_chan;
    int c, h, w, hw_i, kt, kh, kw;
    int q;
    bool m_ok;
    int ih0, iw0, base0;
    int ld_cb = 0, ld_dt = 0, ld_dh = 0, ld_dw = 0;  // the step the next load reads

    __device__ __forceinline__ ConvGather(const Conv3dParams& p, int row0, int row, int chunk) {
        x = reinterpret_cast<const Raw*>(p.x);
        x_chan = p.x_chan;
        c = p.c;
        h = p.h;
        w = p.w;
        hw_i = p.h * p.w;
        kt = p.kt;
        kh = p.kh;
        kw = p.kw;
        q = chunk;
        const int m = row0 + row;
        m_ok = m < p.m;
        const int hw_o = p.ho * p.wo;
        const int t_o = m / hw_o;
        const int rem = m - t_o * hw_o;
        const int h_o = rem / p.wo;
        const int w_o = rem - h_o * p.wo;
        ih0 = h_o - p.pad_h;
        iw0 = w_o - p.pad_w;
        base0 = t_o * hw_i + ih0 * p.w + iw0;  // offset of tap (0, 0, 0) inside a channel (may be < 0: padding)
    }

    // Loads the next step's x[c0 + j, t' + dt, h' + dh - padH, w' + dw - padW] for chunk q (raw[0..7]) and
    // chunk q + 2 (raw[8..15]), 0 in the padding, past C or past M; then advances to the following step.
    __device__ __forceinline__ void load(Raw* raw) {
        const int ih = ih0 + ld_dh, iw = iw0 + ld_dw;
        const bool ok = m_ok && (unsigned)ih < (unsigned)h && (unsigned)iw < (unsigned)w;
        const int off = base0 + ld_dt * hw_i + ld_dh * w + ld_dw;
        #pragma unroll
        for (int g = 0; g < 2; g++) {
            const int c0 = ld_cb * 32 + (q + 2 * g) * 8;
            const int left = c - c0;  // channels of this chunk that exist
            const Raw* src = x + (long long)c0 * x_chan + off;
            if (ok && left >= 8) {
                // The common case: all eight channels exist and the tap is inside the input. Unconditional loads,
                // the address advanced by one add per channel (the guarded loop below costs a 64-bit multiply-add,
                // a predicate and a branch per value: Nsight Compute found the kernel issue-bound on them).
                #pragma unroll
                for (int j = 0; j < 8; j++) {
                    raw[g * 8 + j] = __ldg(src);  // read-only path, cached in L1
                    src += x_chan;
                }
            } else {
                #pragma unroll
                for (int j = 0; j < 8; j++) {
                    Raw v = Raw(0);
                    if (ok && j < left) v = __ldg(src + j * x_chan);
                    raw[g * 8 + j] = v;
                }
            }
        }
        if (++ld_dw == kw) {
            ld_dw = 0;
            if (++ld_dh == kh) {
                ld_dh = 0;
                if (++ld_dt == kt) {
                    ld_dt = 0;
                    ld_cb++;
                }
            }
        }
    }
};

}  // namespace sr
