// gemm_bf16_sm90.cu: the own GEMM's Hopper path (sm_90a only): the same product as gemm_bf16.cu,
//   C[M, N] = alpha * A[M, K] . B[N, K]^T, bf16 in, fp32 accumulation, C float32 or bf16,
// with warpgroup MMA (wgmma.mma_async m64n256k16) reading both operands from shared memory.
// Java twin: io.sparserender.engine.ops.reference.GemmBf16. Test: GemmGpuTest. Bench: bench gemm.
//
// Design: block tile 128 x 256 x 64, two warpgroups (256 threads), each a 64 x 256 slice (128 fp32
// accumulators per thread). Operands arrive by cp.async (every thread; no TMA, so no tensor maps from
// the host) into 4 stages of 48 KiB laid out in the 128-byte swizzle wgmma expects (16-byte chunk c
// of row r at c ^ (r % 8), 8-row atoms 1024 bytes apart). One wgmma group stays in flight while the
// next tile's loads are issued; loads run 2 tiles ahead (the stage refilled is the one read 2 tiles
// ago, whose wgmma every warpgroup has retired before the barrier). Needs K % 8 == 0 and 16-byte
// aligned A, B (the host falls back to gemm_bf16.cu otherwise); partial M/N/K tiles are zero-filled.
// Built for every target (one translation unit); the body exists only for sm_90a
// (__CUDA_ARCH_FEAT_SM90_ALL): elsewhere it traps, and the host launches it only on compute 9.0.
#include "common.cuh"

namespace {

constexpr int H_BM = 128, H_BN = 256, H_BK = 64, H_STAGES = 4, H_THREADS = 256, H_GROUP_M = 8;
constexpr int H_A_BYTES = H_BM * H_BK * 2, H_B_BYTES = H_BN * H_BK * 2, H_STAGE_BYTES = H_A_BYTES + H_B_BYTES;
constexpr int H_SMEM_BYTES = H_STAGES * H_STAGE_BYTES + 1024;  // + room to align the base to 1024

struct GemmSm90Params {
    void* c;              // [M, N] float32 or bf16
    const uint16_t* a;    // [M, K] bf16, K % 8 == 0, 16-byte aligned
    const uint16_t* b;    // [N, K] bf16, same
    int m, n, k;
    float alpha;
};

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

__device__ __forceinline__ uint32_t h_swz(int row, int chunk) {
    return (uint32_t)(row * 128 + ((chunk ^ (row & 7)) << 4));
}

template <int ROWS>
__device__ __forceinline__ void h_load_tile(uint32_t smem, const uint16_t* g, int rows, int K, int row0, int k0) {
    #pragma unroll
    for (int i = 0; i < ROWS * 8 / H_THREADS; i++) {
        int idx = threadIdx.x + i * H_THREADS;
        int r = idx >> 3, c = idx & 7;
        int gr = row0 + r, gk = k0 + c * 8;
        bool ok = gr < rows && gk < K;
        const uint16_t* src = ok ? g + (long long)gr * K + gk : g;
        int bytes = ok ? 16 : 0;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem + h_swz(r, c)), "l"(src), "r"(bytes));
    }
}

// Shared-memory matrix descriptor: start address, leading byte offset (unused with swizzle: 1),
// stride byte offset 1024 (between 8-row atoms), 128-byte swizzle (mode 1 in bits 62-63).
__device__ __forceinline__ uint64_t h_desc(uint32_t addr) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

__device__ __forceinline__ void h_wgmma(float* d, uint64_t desc_a, uint64_t desc_b, int scale_d) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}, %128, %129, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

template <bool OUT_BF16>
__device__ __forceinline__ void gemm_sm90_body(const GemmSm90Params p) {
    extern __shared__ char h_smem_raw[];
    const uint32_t raw = (uint32_t)__cvta_generic_to_shared(h_smem_raw);
    const uint32_t smem = (raw + 1023u) & ~1023u;

    const int tiles_m = (p.m + H_BM - 1) / H_BM, tiles_n = (p.n + H_BN - 1) / H_BN;
    const int pid = blockIdx.x, in_group = H_GROUP_M * tiles_n;
    const int first_m = (pid / in_group) * H_GROUP_M;
    const int group_m = min(tiles_m - first_m, H_GROUP_M);
    const int tm = first_m + (pid % in_group) % group_m, tn = (pid % in_group) / group_m;
    const int row0 = tm * H_BM, col0 = tn * H_BN;
    const int wg = threadIdx.x >> 7;

    float d[128];
    #pragma unroll
    for (int i = 0; i < 128; i++) d[i] = 0.f;

    const int ktiles = (p.k + H_BK - 1) / H_BK;
    #pragma unroll
    for (int s = 0; s < H_STAGES - 2; s++) {
        if (s < ktiles) {
            h_load_tile<H_BM>(smem + s * H_STAGE_BYTES, p.a, p.m, p.k, row0, s * H_BK);
            h_load_tile<H_BN>(smem + s * H_STAGE_BYTES + H_A_BYTES, p.b, p.n, p.k, col0, s * H_BK);
        }
        asm volatile("cp.async.commit_group;\n" ::);
    }
    for (int kt = 0; kt < ktiles; kt++) {
        asm volatile("cp.async.wait_group %0;\n" ::"n"(H_STAGES - 3));
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads();
        const uint32_t sa = smem + (kt % H_STAGES) * H_STAGE_BYTES + wg * (64 * 128), sb = smem + (kt % H_STAGES) * H_STAGE_BYTES + H_A_BYTES;
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        #pragma unroll
        for (int kk = 0; kk < H_BK / 16; kk++) {
            h_wgmma(d, h_desc(sa + kk * 32), h_desc(sb + kk * 32), 1);
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
        int next = kt + H_STAGES - 2;
        if (next < ktiles) {
            uint32_t st = smem + (next % H_STAGES) * H_STAGE_BYTES;
            h_load_tile<H_BM>(st, p.a, p.m, p.k, row0, next * H_BK);
            h_load_tile<H_BN>(st + H_A_BYTES, p.b, p.n, p.k, col0, next * H_BK);
        }
        asm volatile("cp.async.commit_group;\n" ::);
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    asm volatile("cp.async.wait_group 0;\n" ::);

    // accumulator j*4 + e: row 16 * warp + lane / 4 (+8 for e >= 2), column 8 j + 2 (lane % 4) + e % 2
    const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    #pragma unroll
    for (int h = 0; h < 2; h++) {
        int r = row0 + wg * 64 + warp * 16 + (lane >> 2) + h * 8;
        if (r >= p.m) continue;
        #pragma unroll
        for (int j = 0; j < 32; j++) {
            int c = col0 + j * 8 + (lane & 3) * 2;
            float v0 = d[j * 4 + 2 * h] * p.alpha, v1 = d[j * 4 + 2 * h + 1] * p.alpha;
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

#endif

}  // namespace

// Grid: ceil(M/128) * ceil(N/256) blocks (1D), 256 threads, H_SMEM_BYTES (197,632) dynamic shared memory.
extern "C" __global__ void __launch_bounds__(256, 1) gemm_bf16_sm90_f32out(const GemmSm90Params p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_sm90_body<false>(p);
#else
    __trap();
#endif
}
extern "C" __global__ void __launch_bounds__(256, 1) gemm_bf16_sm90_bf16out(const GemmSm90Params p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_sm90_body<true>(p);
#else
    __trap();
#endif
}
