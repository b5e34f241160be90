// gemm_bf16.cu: the project's own bf16 tensor-core matrix product, fp32 accumulation:
//   C[M, N] = alpha * A[M, K] . B[N, K]^T        (B as torch.nn.Linear stores its weight)
// A, B bf16 row-major (K contiguous); C float32 or bf16 row-major. Any M, N, K >= 1.
// Java twin: io.sparserender.engine.ops.reference.GemmBf16. Test: GemmGpuTest. Bench: bench gemm.
//
// Design (sm_80+ instructions only, so the same source serves sm_80/86/89/90a):
// - block tile 128 x 256 x 32, 8 warps as 2 (M) x 4 (N), warp tile 64 x 64 = 4 x 8 mma.sync m16n8k16;
// - 4-stage cp.async pipeline (96 KiB shared memory: fits sm_86/89's 99 KiB), ldmatrix.x4 fragments,
//   rows of 64 bytes with the 16-byte chunk XOR-swizzled by (row >> 1) & 3: conflict-free ldmatrix;
// - partial tiles: rows/columns outside M/N are zero-filled by cp.async's src-size operand;
// - ALIGNED = false (K % 8 != 0 or a pointer not 16-byte aligned): the same pipeline with plain
//   bounds-checked element loads instead of cp.async (slow path; the model's shapes never take it);
// - grouped rasterisation (8 tile rows per group) so a group's B tiles stay in L2.
// Alternatives: Hopper's wgmma + TMA would reach cuBLAS's speed on sm_90a but needs a separate
// kernel; not written yet (docs/BENCHMARKS.md records what this one reaches).
#include "common.cuh"

namespace {

constexpr int GEMM_BM = 128, GEMM_BN = 256, GEMM_BK = 32, GEMM_STAGES = 4, GEMM_THREADS = 256, GEMM_GROUP_M = 8;
constexpr int GEMM_SMEM_BYTES = GEMM_STAGES * (GEMM_BM + GEMM_BN) * GEMM_BK * 2;

struct GemmParams {
    void* c;              // [M, N] float32 or bf16
    const uint16_t* a;    // [M, K] bf16
    const uint16_t* b;    // [N, K] bf16
    int m, n, k;
    float alpha;
};

// Byte offset of (row, 16-byte chunk) in a tile of 64-byte rows, swizzled.
__device__ __forceinline__ uint32_t gemm_swz(int row, int chunk) {
    return (uint32_t)(row * 64 + ((chunk ^ ((row >> 1) & 3)) << 4));
}

__device__ __forceinline__ void gemm_cp_async16(uint32_t dst, const void* src, bool pred) {
    int bytes = pred ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}

// Loads rows [row0, row0 + ROWS) x k [k0, k0 + 32) of a [rows, K] bf16 matrix into a swizzled tile.
template <int ROWS, bool ALIGNED>
__device__ __forceinline__ void gemm_load_tile(uint32_t smem, char* smem_ptr, const uint16_t* g, int rows, int K, int row0, int k0) {
    constexpr int CHUNKS = ROWS * 4;
    #pragma unroll
    for (int i = 0; i < CHUNKS / GEMM_THREADS; i++) {
        int idx = threadIdx.x + i * GEMM_THREADS;
        int r = idx >> 2, c = idx & 3;
        int gr = row0 + r, gk = k0 + c * 8;
        if constexpr (ALIGNED) {
            bool ok = gr < rows && gk < K;  // K % 8 == 0: a chunk is wholly in or out
            const uint16_t* src = ok ? g + (long long)gr * K + gk : g;
            gemm_cp_async16(smem + gemm_swz(r, c), src, ok);
        } else {
            uint16_t v[8];
            #pragma unroll
            for (int j = 0; j < 8; j++) v[j] = (gr < rows && gk + j < K) ? g[(long long)gr * K + gk + j] : (uint16_t)0;
            uint4 pack;
            pack.x = v[0] | ((uint32_t)v[1] << 16);
            pack.y = v[2] | ((uint32_t)v[3] << 16);
            pack.z = v[4] | ((uint32_t)v[5] << 16);
            pack.w = v[6] | ((uint32_t)v[7] << 16);
            *reinterpret_cast<uint4*>(smem_ptr + gemm_swz(r, c)) = pack;
        }
    }
}

__device__ __forceinline__ void gemm_ldmatrix_x4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

__device__ __forceinline__ void gemm_mma(float* d, const uint32_t* a, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <bool ALIGNED, bool OUT_BF16>
__device__ __forceinline__ void gemm_bf16_body(const GemmParams p) {
    extern __shared__ __align__(128) char gemm_smem[];
    const int tiles_m = (p.m + GEMM_BM - 1) / GEMM_BM, tiles_n = (p.n + GEMM_BN - 1) / GEMM_BN;
    // grouped rasterisation
    const int pid = blockIdx.x;
    const int in_group = GEMM_GROUP_M * tiles_n;
    const int first_m = (pid / in_group) * GEMM_GROUP_M;
    const int group_m = min(tiles_m - first_m, GEMM_GROUP_M);
    const int tm = first_m + (pid % in_group) % group_m;
    const int tn = (pid % in_group) / group_m;
    const int row0 = tm * GEMM_BM, col0 = tn * GEMM_BN;

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int wm = (warp >> 2) * 64, wn = (warp & 3) * 64;

    constexpr int A_BYTES = GEMM_BM * GEMM_BK * 2, B_BYTES = GEMM_BN * GEMM_BK * 2, STAGE_BYTES = A_BYTES + B_BYTES;
    const uint32_t smem = (uint32_t)__cvta_generic_to_shared(gemm_smem);

    float acc[4][8][4];
    #pragma unroll
    for (int i = 0; i < 4; i++)
        #pragma unroll
        for (int j = 0; j < 8; j++)
            #pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;

    const int ktiles = (p.k + GEMM_BK - 1) / GEMM_BK;
    #pragma unroll
    for (int s = 0; s < GEMM_STAGES - 1; s++) {
        if (s < ktiles) {
            uint32_t st = smem + s * STAGE_BYTES;
            gemm_load_tile<GEMM_BM, ALIGNED>(st, gemm_smem + s * STAGE_BYTES, p.a, p.m, p.k, row0, s * GEMM_BK);
            gemm_load_tile<GEMM_BN, ALIGNED>(st + A_BYTES, gemm_smem + s * STAGE_BYTES + A_BYTES, p.b, p.n, p.k, col0, s * GEMM_BK);
        }
        asm volatile("cp.async.commit_group;\n" ::);
    }

    for (int kt = 0; kt < ktiles; kt++) {
        asm volatile("cp.async.wait_group %0;\n" ::"n"(GEMM_STAGES - 2));
        __syncthreads();
        {
            int next = kt + GEMM_STAGES - 1;
            if (next < ktiles) {
                int s = next % GEMM_STAGES;
                uint32_t st = smem + s * STAGE_BYTES;
                gemm_load_tile<GEMM_BM, ALIGNED>(st, gemm_smem + s * STAGE_BYTES, p.a, p.m, p.k, row0, next * GEMM_BK);
                gemm_load_tile<GEMM_BN, ALIGNED>(st + A_BYTES, gemm_smem + s * STAGE_BYTES + A_BYTES, p.b, p.n, p.k, col0, next * GEMM_BK);
            }
            asm volatile("cp.async.commit_group;\n" ::);
        }
        const uint32_t sa = smem + (kt % GEMM_STAGES) * STAGE_BYTES, sb = sa + A_BYTES;
        #pragma unroll
        for (int kk = 0; kk < GEMM_BK / 16; kk++) {
            uint32_t af[4][4];
            #pragma unroll
            for (int i = 0; i < 4; i++) {
                int r = wm + i * 16 + (lane & 15);
                int c = kk * 2 + (lane >> 4);
                gemm_ldmatrix_x4(sa + gemm_swz(r, c), af[i][0], af[i][1], af[i][2], af[i][3]);
            }
            uint32_t bf[8][2];
            #pragma unroll
            for (int j = 0; j < 4; j++) {
                int r = wn + j * 16 + ((lane >> 4) << 3) + (lane & 7);
                int c = kk * 2 + ((lane >> 3) & 1);
                gemm_ldmatrix_x4(sb + gemm_swz(r, c), bf[2 * j][0], bf[2 * j][1], bf[2 * j + 1][0], bf[2 * j + 1][1]);
            }
            #pragma unroll
            for (int i = 0; i < 4; i++)
                #pragma unroll
                for (int j = 0; j < 8; j++) gemm_mma(acc[i][j], af[i], bf[j][0], bf[j][1]);
        }
    }
    asm volatile("cp.async.wait_group 0;\n" ::);

    // epilogue: fragment (i, j) element e sits at row wm + 16i + lane/4 (+8 for e >= 2), column wn + 8j + 2(lane%4) + e%2
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            int r = row0 + wm + i * 16 + (lane >> 2) + h * 8;
            if (r >= p.m) continue;
            #pragma unroll
            for (int j = 0; j < 8; j++) {
                int c = col0 + wn + j * 8 + (lane & 3) * 2;
                float v0 = acc[i][j][2 * h] * p.alpha, v1 = acc[i][j][2 * h + 1] * p.alpha;
                long long o = (long long)r * p.n + c;
                if (c + 1 < p.n && (p.n & 1) == 0) {
                    if constexpr (OUT_BF16) {
                        *reinterpret_cast<__nv_bfloat162*>(reinterpret_cast<__nv_bfloat16*>(p.c) + o) = __floats2bfloat162_rn(v0, v1);
                    } else {
                        *reinterpret_cast<float2*>(reinterpret_cast<float*>(p.c) + o) = make_float2(v0, v1);
                    }
                } else {
                    if (c < p.n) sr::store_from_float<OUT_BF16>(p.c, o, v0);
                    if (c + 1 < p.n) sr::store_from_float<OUT_BF16>(p.c, o + 1, v1);
                }
            }
        }
    }
}

}  // namespace

// Grid: ceil(M/128) * ceil(N/256) blocks (1D), 256 threads, GEMM_SMEM_BYTES (98,304) dynamic shared memory.
extern "C" __global__ void __launch_bounds__(256, 1) gemm_bf16_f32out(const GemmParams p) { gemm_bf16_body<true, false>(p); }
extern "C" __global__ void __launch_bounds__(256, 1) gemm_bf16_bf16out(const GemmParams p) { gemm_bf16_body<true, true>(p); }
extern "C" __global__ void __launch_bounds__(256, 1) gemm_bf16_f32out_unaligned(const GemmParams p) { gemm_bf16_body<false, false>(p); }
extern "C" __global__ void __launch_bounds__(256, 1) gemm_bf16_bf16out_unaligned(const GemmParams p) { gemm_bf16_body<false, true>(p); }
