// flash_attention_sm90_ws_fp8.cu: dense attention on 8-bit tensor cores (SageAttention's split on FlashAttention-3's
// FP8 structure) on the warp-specialised structure of flash_attention_sm90_ws.cu, D = 128: a TMA producer warpgroup
// and two consumer warpgroups of 64 q rows sharing each 128-key K and Vᵀ block through a two-stage ring. Operands from
// attention_fp8_quantize.cu: Q INT8 codes with a scale per row, K INT8 codes with a scale per 128-key block, Vᵀ E4M3
// codes with a scale per channel (keys permuted within 32-key chunks to match P's registers). Java twin:
// io.sparserender.engine.attention.Fp8Attention.
//
// Per block j, for a consumer's rows: S = Q8·K8ᵀ (wgmma m64n128k32 s8, exact int32 accumulation, 4 k-steps, onto an
// accumulator started at the bits of 1.5·2²³, so each score reads as the float 1.5·2²³ + S with no conversion:
// |S| ≤ 128·127² < 2²²); the row's factor f = qs·ks_j·scale·log2 e turns raw scores into log2 units (the row maximum in those units: max(S)·f, f > 0);
// P = 2^(S·f − (M − 8)) (≤ 256: P is scaled by 2^8 so that its small values stay normal in E4M3, and the scale
// cancels in O / l); l sums P in fp32; P to E4M3 in registers, straight into the PV product's A operand (wgmma
// m64n128k32 with A from registers, B = the Vᵀ block); O rescaled when a row's maximum moves. At the end
// O[:, d] · vs[d] / l, written as bf16 or fp32.
//
// Bytes per block and stage: 16 KiB of K and 16 KiB of Vᵀ (half of bf16's), so the same ring holds the same 128 keys
// in half the shared memory.
// Measured (H200, docs/BENCHMARKS.md "8-bit attention"): 1.25–1.32× our bf16 ws at L 27,280, 1.44–1.45× at L 75,600. Tried and
// measured slower: converting each int32 score (I2FP, 7 % slower than the offset accumulator); QKᵀ of the next block
// under this block's softmax (FlashAttention-3's intra-warpgroup overlap: ptxas serializes the wgmma, C7513, since O's
// rescale and P's packing write wgmma inputs while a group is in flight; 14–19 % slower); the two consumers taking
// turns at the tensor cores (FlashAttention-3's ping-pong, named barriers: 4–5 % slower).
#include <stdint.h>
#include <cuda_bf16.h>
#include "flash_attention_sm90.cuh"
#include "flash_attention_sm90_ws.cuh"
#include "flash_attention_sm90_ws_fp8.cuh"

namespace fa90ws8 {

using fa90ws::TensorMap;
constexpr int D = 128;
constexpr int BN = 128;                          // keys per block
constexpr int Q_BYTES = 128 * D;                 // 16 KiB: two 64-row halves of 128-byte rows
constexpr int KV_STAGE_BYTES = BN * D;           // 16 KiB
constexpr int SMEM_BYTES = Q_BYTES + 4 * KV_STAGE_BYTES + 1024;   // Java: CudaFp8Attention.SMEM_BYTES
static_assert(SMEM_BYTES <= 227 * 1024, "one CTA per SM");

// Java: CudaFp8Attention.Params, field for field.
struct Params {
    const float* qs;             // [B, H, L]
    const float* ks;             // [B, H, ceil(L/128)]
    const float* vs;             // [B, H, 128]
    void* out;                   // [B, L, H, 128] bf16 where out_bf16, else float32
    float* lse;                  // [B, H, L] or null
    unsigned long long* stats;   // tiles counter (stats[0]): kv_tiles per 64-row q-tile, as the other kernels count
    int kv_tiles;                // the policy's kv-tiles per row: ceil(L / bc)
    int batch;
    int seq_len;
    int heads;
    float scale;
    int out_bf16;
};

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// S = Q·K_jᵀ, four k-steps of 32 accumulated onto MAGIC_BITS, into the caller's open wgmma group.
__device__ __forceinline__ void issue_qk_steps(int* si, uint32_t q, uint32_t k) {
    #pragma unroll
    for (int kk = 0; kk < 4; kk++) wgmma_ss_s8(si, fa90::desc128(q + kk * 32), fa90::desc128(k + kk * 32), 1);
}

// O += P·V_j over the block's 128 keys (four k-steps of 32) into the caller's open wgmma group.
__device__ __forceinline__ void issue_pv(float* o, uint32_t (*pa)[4], uint32_t v) {
    #pragma unroll
    for (int kk = 0; kk < 4; kk++) wgmma_rs_e4m3(o, pa[kk], fa90::desc128(v + kk * 32));
}

// Block j's softmax for a consumer's two rows per thread, from its QKᵀ accumulators: each score read as the float
// MAGIC_F + S (the accumulator's bits), keys ≥ L masked, the rows' maxima in log2 units, alpha, O's rescale, the exps
// against the new maximum (P scaled by 2^8) as one fma each, l, and P to E4M3 in pa.
__device__ __forceinline__ void softmax_block(int* si, float* o, uint32_t (*pa)[4], float* m, float* l, const float* qf,
                                              float kscale, int kb0, int L, int t4) {
    // The scores and then P live in the accumulator's own registers.
    float* s = reinterpret_cast<float*>(si);
    fa90ws::mask_past_end<16>(s, kb0, L, t4);
    float tm[1][2], bm[2];
    const float none[2] = {-INFINITY, -INFINITY};
    fa90ws::tile_maxima<1, 16>(s, none, tm, bm);
    float f[2], cst[2], alpha[2];
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        f[r] = qf[r] * kscale;
        const float raw = bm[r] - MAGIC_F;                    // exact: both integers below 2^24
        const float mn = fmaxf(m[r], raw * f[r]);
        alpha[r] = m[r] == -INFINITY ? 0.f : fa90::ex2_ftz(m[r] - mn);
        m[r] = mn;
        const float msc = mn - 8.f;                           // P scaled by 2^8
        cst[r] = fmaf(MAGIC_F, f[r], msc);                    // exponent = (MAGIC_F + S)·f − cst = S·f − msc
        l[r] *= alpha[r];
    }
    fa90ws::rescale_o(o, alpha);
    float ps[2] = {0.f, 0.f};
    #pragma unroll
    for (int g = 0; g < 16; g++) {
        s[g * 4 + 0] = fa90::ex2_ftz(fmaf(s[g * 4 + 0], f[0], -cst[0]));
        s[g * 4 + 1] = fa90::ex2_ftz(fmaf(s[g * 4 + 1], f[0], -cst[0]));
        s[g * 4 + 2] = fa90::ex2_ftz(fmaf(s[g * 4 + 2], f[1], -cst[1]));
        s[g * 4 + 3] = fa90::ex2_ftz(fmaf(s[g * 4 + 3], f[1], -cst[1]));
        ps[0] += s[g * 4 + 0] + s[g * 4 + 1];
        ps[1] += s[g * 4 + 2] + s[g * 4 + 3];
    }
    #pragma unroll
    for (int r = 0; r < 2; r++) {
        ps[r] += __shfl_xor_sync(0xffffffffu, ps[r], 1);
        ps[r] += __shfl_xor_sync(0xffffffffu, ps[r], 2);
        l[r] += ps[r];
    }
    pack_p(s, pa);
}

__device__ void attention_ws_fp8(const TensorMap& mq, const TensorMap& mk, const TensorMap& mv, const Params& p) {
    using namespace fa90ws;
    extern __shared__ char smem_ws8[];
    __shared__ uint64_t bars[9];   // the Ring's barriers
    const uint32_t base = ((uint32_t)__cvta_generic_to_shared(smem_ws8) + 1023u) & ~1023u;
    const uint32_t sQ = base, sK = base + Q_BYTES, sV = sK + 2 * KV_STAGE_BYTES;
    const Ring ring{(uint32_t)__cvta_generic_to_shared(&bars[0])};

    const int L = p.seq_len, H = p.heads;
    const int nq = (L + 127) / 128, nb = (L + BN - 1) / BN;
    const int qt = blockIdx.x % nq, bh = blockIdx.x / nq;
    const int b = bh / H, h = bh % H;
    const int wg = __shfl_sync(0xffffffffu, (int)(threadIdx.x / 128), 0), tid = threadIdx.x % 128;

    if (threadIdx.x == 0) {
        ring.init();
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        if (tid == 0) {
            bar_expect(ring.fullQ(), Q_BYTES);
            for (int half = 0; half < 2; half++) {
                tma_4d(sQ + half * 8192, mq, 0, h, qt * 128 + half * 64, b, ring.fullQ());
            }
            for (int j = 0; j < nb; j++) {
                const int s = j & 1;
                if (j >= 2) bar_wait(ring.emptyK(s), ((j >> 1) + 1) & 1);
                bar_expect(ring.fullK(s), KV_STAGE_BYTES);
                tma_4d(sK + s * KV_STAGE_BYTES, mk, 0, h, j * BN, b, ring.fullK(s));
                if (j >= 2) bar_wait(ring.emptyV(s), ((j >> 1) + 1) & 1);
                bar_expect(ring.fullV(s), KV_STAGE_BYTES);
                tma_3d(sV + s * KV_STAGE_BYTES, mv, j * BN, 0, bh, ring.fullV(s));
            }
            ring.drain(nb);
        }
        return;
    }

    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int half = wg - 1;
    const int r0 = (qt * 2 + half) * 64, rows = max(0, min(64, L - r0));
    const int warp = tid >> 5, lane = tid & 31, t4 = lane & 3;
    const int lr0 = warp * 16 + (lane >> 2), lr1 = lr0 + 8;
    const bool valid0 = r0 + lr0 < L, valid1 = r0 + lr1 < L;
    const float sl2e = p.scale * 1.4426950408889634f;
    // Each row's score factor without the block's K scale: qs · scale · log2 e (0 for rows past L: never written).
    const float* qs = p.qs + (long long)bh * L;
    const float qf[2] = {valid0 ? qs[r0 + lr0] * sl2e : 0.f, valid1 ? qs[r0 + lr1] * sl2e : 0.f};
    const float* ks = p.ks + (long long)bh * nb;
    const uint32_t myQ = sQ + half * 8192;

    // m: each row's maximum in log2 units (scores · scale · log2 e); l the sum of P (scaled by 2^8) relative to it.
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
    float o[64];
    #pragma unroll
    for (int i = 0; i < 64; i++) o[i] = 0.f;
    uint32_t pa[4][4];

    bar_wait(ring.fullQ(), 0);
    {
        int si[64];
        for (int j = 0; j <= nb; j++) {
            // PV of block j − 1 and S = Q·K_jᵀ as one wgmma group, one wait per block (as flash_attention_sm90_ws.cu).
            const bool qk = j < nb;
            const int st = j & 1, par = (j >> 1) & 1, pst = (j + 1) & 1, ppar = ((j - 1) >> 1) & 1;
            const uint32_t kbuf = sK + st * KV_STAGE_BYTES, pvbuf = sV + pst * KV_STAGE_BYTES;
            if (qk) bar_wait(ring.fullK(st), par);
            if (j > 0) bar_wait(ring.fullV(pst), ppar);
            if (qk) set_magic(si);
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
            if (j > 0) issue_pv(o, pa, pvbuf);
            if (qk) issue_qk_steps(si, myQ, kbuf);
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
            fa90::fence_regs<64>(o);
            fence_ints(si);
            if (qk) bar_arrive(ring.emptyK(st));
            if (j > 0) bar_arrive(ring.emptyV(pst));
            if (!qk) break;
            softmax_block(si, o, pa, m, l, qf, ks[j], j * BN, L, t4);
        }
    }

    if (rows == 0) return;
    store_rows<false>(p.out, p.out_bf16, p.lse, p.vs + (long long)bh * D, o, m, l, b, h, bh, H, L, r0, lr0, lr1, valid0, valid1, t4);
    if (tid == 0) atomicAdd(&p.stats[0], (unsigned long long)p.kv_tiles);
}

#endif

}  // namespace fa90ws8

// Grid: B·H·ceil(L/128) CTAs of 384 threads, fa90ws8::SMEM_BYTES of dynamic shared memory. Tensor maps (uint8):
// Q and K codes as [128, H, L, B] (boxes {128, 1, 64, 1} and {128, 1, 128, 1}), Vᵀ codes as [Lp, 128, B·H] (boxes
// {128, 128, 1}); 128-byte swizzle, zeros outside.
extern "C" __global__ void __launch_bounds__(384, 1) flash_attn_sm90ws_fp8_dense_d128(
        const __grid_constant__ fa90ws::TensorMap mq, const __grid_constant__ fa90ws::TensorMap mk,
        const __grid_constant__ fa90ws::TensorMap mv, fa90ws8::Params p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    fa90ws8::attention_ws_fp8(mq, mk, mv, p);
#else
    __trap();
#endif
}
