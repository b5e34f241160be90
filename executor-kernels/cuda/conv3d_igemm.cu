// conv3d_igemm.cu: the VAE's 3D convolution (stride 1, valid in time, zero padding in H and W) as an
// implicit GEMM on the tensor cores, bf16 products with fp32 accumulation:
//   out[o, t, h, w] = bias[o] + sum over c, dt, dh, dw of
//                     W[o, c, dt, dh, dw] * x[c, t + dt, h + dh - padH, w + dw - padW]   (0 outside H x W)
// x [C, T, H, W] and out [O, T', H', W'] channels-first, float32 or bf16 (out has x's dtype; float32
// activations are rounded to bf16 as they are gathered); bias float32 [O] or null.
// Java twin: CpuOps.conv3d on the bf16-rounded x and W. Index-math twin (the same tiling, step order
// and gather in plain Java, tested on the CPU): io.sparserender.engine.ops.reference.Conv3dImplicitGemm.
// Test: Conv3dGpuTest. Bench: bench conv3d. Host side: CudaVaeKernels.
//
// GEMM view: D[m, n] = sum_k A[m, k] B[n, k] with m = output position (t', h', w') in row-major order,
// n = output channel o, and k running over (channel block cb, tap (dt, dh, dw), channel c in block):
//   - B is the weight re-packed once by conv3d_pack_weight_* into [O, CB, taps, 32] bf16 (CB = ceil(C/32),
//     channels >= C zero): one K-step of 32 is one (cb, tap) and reads 64 contiguous bytes per row, so
//     B goes global -> shared by cp.async exactly as in gemm_bf16.cu;
//   - A (the input patch) is never materialised: each thread owns one output position m of the block
//     tile for the whole K loop (its (t', h', w') decoded once) and two 8-channel chunks; per K-step it
//     gathers x[c0 + j, t' + dt, h' + dh - padH, w' + dw - padW], j < 8, into registers (zero where
//     (h, w) falls in the padding, m >= M or c >= C), converts to bf16 and stores one 16-byte row
//     chunk to shared memory. Consecutive threads own consecutive m, so each gather instruction of a
//     warp reads consecutive w of one input row (coalesced). Channel blocks outermost, taps inside:
//     the 3 x 3 x 3 taps of one block re-read the same few input rows, which stay in L1.
//   - (dt, dh, dw) and the channel block advance by counters, no division in the loop; the same
//     order as the packed weight.
// Pipeline (per block, CONV_STAGES = 4 shared-memory stages): at step s the B tile of step s + 3 is
// issued by cp.async and the A gather of step s + 3 into registers; the MMAs of step s run while
// those loads are in flight; the gathered A is written to shared memory after the MMAs (into the stage
// step s - 1 used, free since the barrier at the top of step s).
// Tiles: BM = 128 output positions x BN output channels x BK = 32, 8 warps; BN 256 (warps 2 x 4, warp
// tile 64 x 64), 128 (2 x 4, 64 x 32), 64 (4 x 2, 32 x 32), 32 (4 x 2, 32 x 16): the host picks the
// one that wastes least on O (CudaVaeKernels.ConvTile). Shared-memory rows of 64 bytes with the 16-byte
// chunk XOR-swizzled by (row >> 1) & 3 (conflict-free ldmatrix and A stores), as gemm_bf16.cu.
// Epilogue: bias added in fp32, each element stored once at out[n * M + m] (out is [O, M]), rounded to
// bf16 when x is bf16. Blocks are ordered n-tile fastest, so the n-tiles sharing an A tile run together.
// Sizes: any C, O, T >= kt, H, W, padding (partial tiles masked); M = T'H'W' and T H W below 2^31 (the
// host checks), channel offsets in 64 bits.
#include "conv3d_common.cuh"

namespace {

using sr::Conv3dParams;
using sr::Conv3dPackParams;

constexpr int CONV_BM = 128, CONV_BK = 32, CONV_STAGES = 4, CONV_THREADS = 256;

// Byte offset of (row, 16-byte chunk) in a tile of 64-byte rows, swizzled (as gemm_swz in gemm_bf16.cu).
__device__ __forceinline__ uint32_t conv_swz(int row, int chunk) {
    return (uint32_t)(row * 64 + ((chunk ^ ((row >> 1) & 3)) << 4));
}

__device__ __forceinline__ void conv_cp_async16(uint32_t dst, const void* src, bool pred) {
    int bytes = pred ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}

__device__ __forceinline__ void conv_ldmatrix_x4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

__device__ __forceinline__ void conv_mma(float* d, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// The weight [O, C, kt, kh, kw] re-packed to [O, CB, taps, 32]: element (o, cb, tap, j) = W[o, 32 cb + j, tap],
// 0 for channels >= C. Grid-stride over the packed elements.
template <bool W_BF16>
__device__ void conv3d_pack(const Conv3dPackParams p) {
    const long long n = (long long)p.o * p.cb * p.taps * 32;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        const int j = (int)(i & 31);
        long long r = i >> 5;
        const int tap = (int)(r % p.taps);
        r /= p.taps;
        const int b = (int)(r % p.cb);
        const long long o = r / p.cb;
        const int ch = b * 32 + j;
        uint16_t bits = 0;
        if (ch < p.c) {
            const long long src = (o * p.c + ch) * p.taps + tap;
            if constexpr (W_BF16) {
                bits = reinterpret_cast<const uint16_t*>(p.w)[src];
            } else {
                __nv_bfloat16 v = __float2bfloat16_rn(reinterpret_cast<const float*>(p.w)[src]);
                bits = *reinterpret_cast<uint16_t*>(&v);
            }
        }
        p.out[i] = bits;
    }
}

template <int BN, int WARPS_M, int WARPS_N, bool X_BF16>
__device__ __forceinline__ void conv3d_body(const Conv3dParams& p) {
    constexpr int BM = CONV_BM, BK = CONV_BK, STAGES = CONV_STAGES;
    constexpr int WTM = BM / WARPS_M, WTN = BN / WARPS_N;  // warp tile
    constexpr int MI = WTM / 16, NI = WTN / 8;             // mma tiles per warp
    static_assert(WARPS_M * WARPS_N * 32 == CONV_THREADS, "8 warps");
    static_assert(MI >= 1 && NI >= 2 && NI % 2 == 0, "warp tile: 16-row A fragments, pairs of 8-column B fragments");
    static_assert(BM == 128 && CONV_THREADS == 256, "the A gather maps thread -> (row = tid % 128, chunks tid / 128 + {0, 2})");
    constexpr int A_BYTES = BM * BK * 2, B_BYTES = BN * BK * 2, STAGE_BYTES = A_BYTES + B_BYTES;
    using Raw = typename sr::ConvRaw<X_BF16>::type;

    extern __shared__ __align__(128) char conv_smem[];
    const uint32_t smem = (uint32_t)__cvta_generic_to_shared(conv_smem);

    const int tiles_n = (p.o + BN - 1) / BN;
    const int tm = blockIdx.x / tiles_n, tn = blockIdx.x - (blockIdx.x / tiles_n) * tiles_n;
    const int row0 = tm * BM, col0 = tn * BN;
    const int taps = p.kt * p.kh * p.kw;
    const int ksteps = p.cb * taps;
    const long long kp = (long long)ksteps * BK;  // row length of the packed weight

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int wm = (warp / WARPS_N) * WTM, wn = (warp % WARPS_N) * WTN;

    // ---- the A gather: thread -> output position row0 + tid % 128, chunks tid / 128 and tid / 128 + 2
    const int a_row = threadIdx.x & (BM - 1);
    const int a_q = threadIdx.x >> 7;
    sr::ConvGather<X_BF16> gather(p, row0, a_row, a_q);
    Raw raw[16];
    auto gather_a = [&]() { gather.load(raw); };
    auto store_a = [&](int stage) {
        char* tile = conv_smem + stage * STAGE_BYTES;
        *reinterpret_cast<uint4*>(tile + conv_swz(a_row, a_q)) = sr::conv_pack8(raw);
        *reinterpret_cast<uint4*>(tile + conv_swz(a_row, a_q + 2)) = sr::conv_pack8(raw + 8);
    };
    auto load_b = [&](int stage, int step) {
        const uint32_t tile = smem + stage * STAGE_BYTES + A_BYTES;
        #pragma unroll
        for (int idx = threadIdx.x; idx < BN * 4; idx += CONV_THREADS) {
            const int r = idx >> 2, ch = idx & 3;
            const int n = col0 + r;
            const bool ok = n < p.o;
            const uint16_t* src = ok ? p.wt + (long long)n * kp + (long long)step * BK + ch * 8 : p.wt;
            conv_cp_async16(tile + conv_swz(r, ch), src, ok);
        }
    };

    float acc[MI][NI][4];
    #pragma unroll
    for (int i = 0; i < MI; i++)
        #pragma unroll
        for (int j = 0; j < NI; j++)
            #pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;

    #pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < ksteps) {
            load_b(s, s);
            gather_a();
            store_a(s);
        }
        asm volatile("cp.async.commit_group;\n" ::);
    }

    for (int kt = 0; kt < ksteps; kt++) {
        asm volatile("cp.async.wait_group %0;\n" ::"n"(STAGES - 2));
        __syncthreads();  // step kt's A and B are in shared memory; every warp is done with step kt - 1
        const int next = kt + STAGES - 1;
        const bool more = next < ksteps;
        const int next_stage = next % STAGES;
        if (more) {
            load_b(next_stage, next);
            gather_a();  // into registers; stored after this step's MMAs
        }
        asm volatile("cp.async.commit_group;\n" ::);

        const uint32_t sa = smem + (kt % STAGES) * STAGE_BYTES, sb = sa + A_BYTES;
        #pragma unroll
        for (int kk = 0; kk < BK / 16; kk++) {
            uint32_t af[MI][4];
            #pragma unroll
            for (int i = 0; i < MI; i++) {
                const int r = wm + i * 16 + (lane & 15);
                const int c = kk * 2 + (lane >> 4);
                conv_ldmatrix_x4(sa + conv_swz(r, c), af[i][0], af[i][1], af[i][2], af[i][3]);
            }
            uint32_t bf[NI][2];
            #pragma unroll
            for (int j = 0; j < NI / 2; j++) {
                const int r = wn + j * 16 + ((lane >> 4) << 3) + (lane & 7);
                const int c = kk * 2 + ((lane >> 3) & 1);
                conv_ldmatrix_x4(sb + conv_swz(r, c), bf[2 * j][0], bf[2 * j][1], bf[2 * j + 1][0], bf[2 * j + 1][1]);
            }
            #pragma unroll
            for (int i = 0; i < MI; i++)
                #pragma unroll
                for (int j = 0; j < NI; j++) conv_mma(acc[i][j], af[i], bf[j][0], bf[j][1]);
        }
        if (more) store_a(next_stage);
    }
    asm volatile("cp.async.wait_group 0;\n" ::);

    // ---- epilogue: fragment (i, j) element e sits at row wm + 16i + lane/4 (+8 for e >= 2),
    // column wn + 8j + 2(lane % 4) + e % 2; out is [O, M]: element (m, n) at n * M + m.
    float bias[NI][2];
    #pragma unroll
    for (int j = 0; j < NI; j++)
        #pragma unroll
        for (int e = 0; e < 2; e++) {
            const int n = col0 + wn + j * 8 + (lane & 3) * 2 + e;
            bias[j][e] = (p.bias != nullptr && n < p.o) ? p.bias[n] : 0.f;
        }
    #pragma unroll
    for (int i = 0; i < MI; i++) {
        #pragma unroll
        for (int hh = 0; hh < 2; hh++) {
            const int r = row0 + wm + i * 16 + (lane >> 2) + hh * 8;
            if (r >= p.m) continue;
            #pragma unroll
            for (int j = 0; j < NI; j++) {
                #pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int n = col0 + wn + j * 8 + (lane & 3) * 2 + e;
                    if (n < p.o) {
                        sr::store_from_float<X_BF16>(p.out, (long long)n * p.m + r, acc[i][j][2 * hh + e] + bias[j][e]);
                    }
                }
            }
        }
    }
}

}  // namespace

// Pack: grid-stride over O * CB * taps * 32 elements, any grid.
extern "C" __global__ void conv3d_pack_weight_f32(const Conv3dPackParams p) { conv3d_pack<false>(p); }
extern "C" __global__ void conv3d_pack_weight_bf16(const Conv3dPackParams p) { conv3d_pack<true>(p); }

// Convolution: grid ceil(M / 128) * ceil(O / BN) blocks (1D), 256 threads,
// CONV_STAGES * (128 + BN) * 64 bytes of dynamic shared memory (CudaVaeKernels.ConvTile.smemBytes).
extern "C" __global__ void __launch_bounds__(CONV_THREADS, 1) conv3d_igemm_n256_f32(const Conv3dParams p) { conv3d_body<256, 2, 4, false>(p); }
extern "C" __global__ void __launch_bounds__(CONV_THREADS, 1) conv3d_igemm_n256_bf16(const Conv3dParams p) { conv3d_body<256, 2, 4, true>(p); }
extern "C" __global__ void __launch_bounds__(CONV_THREADS, 1) conv3d_igemm_n128_f32(const Conv3dParams p) { conv3d_body<128, 2, 4, false>(p); }
extern "C" __global__ void __launch_bounds__(CONV_THREADS, 1) conv3d_igemm_n128_bf16(const Conv3dParams p) { conv3d_body<128, 2, 4, true>(p); }
extern "C" __global__ void __launch_bounds__(CONV_THREADS, 2) conv3d_igemm_n64_f32(const Conv3dParams p) { conv3d_body<64, 4, 2, false>(p); }
extern "C" __global__ void __launch_bounds__(CONV_THREADS, 2) conv3d_igemm_n64_bf16(const Conv3dParams p) { conv3d_body<64, 4, 2, true>(p); }
extern "C" __global__ void __launch_bounds__(CONV_THREADS, 2) conv3d_igemm_n32_f32(const Conv3dParams p) { conv3d_body<32, 4, 2, false>(p); }
extern "C" __global__ void __launch_bounds__(CONV_THREADS, 2) conv3d_igemm_n32_bf16(const Conv3dParams p) { conv3d_body<32, 4, 2, true>(p); }
