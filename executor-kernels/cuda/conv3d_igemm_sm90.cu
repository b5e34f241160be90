// conv3d_igemm_sm90.cu: conv3d_igemm.cu's convolution on Hopper (sm_90a only), with warpgroup MMA
// (wgmma.mma_async m64n256k16) reading both operands from shared memory; the same result (products of
// bf16, fp32 accumulation, bias, out in x's dtype), used by the host for the N256 tile on compute 9.0.
// Java twin: CpuOps.conv3d on the bf16-rounded x and W; index-math twin: reference.Conv3dImplicitGemm
// (the gather is the shared sr::ConvGather of conv3d_common.cuh). Test: Conv3dGpuTest. Bench: bench conv3d.
//
// Design: the own Hopper GEMM's (gemm_bf16_sm90.cu) block tile 128 x 256 x 64 and pipeline, with the A
// operand gathered as in conv3d_igemm.cu. Two warpgroups (256 threads), each a 64 x 256 slice (128 fp32
// accumulators per thread). One K-step of 64 is two consecutive 32-channel steps of the packed weight
// (two taps of one channel block, or the last tap of one block and the first of the next): B's 128
// contiguous bytes per output channel arrive by cp.async, columns past the packed K zero-filled (odd step
// counts); A's 64 columns are two sr::ConvGather loads (steps past the last one read channels >= C, so
// zeros). Shared memory: 4 stages of 48 KiB in the 128-byte swizzle wgmma expects (16-byte chunk c of row
// r at c ^ (r % 8), 8-row atoms 1024 bytes apart). Per step: wait for this step's B, fence the async
// proxy (the gathered A was written with ordinary stores), barrier, issue the step's 4 wgmmas; gather the
// A of the step 2 ahead into registers while they run; retire the previous step's wgmmas; then issue the
// B copy and write the A of the step 2 ahead into the stage the step 2 back used (retired by both
// warpgroups before this step's barrier). Epilogue: bias, out[n * M + m] as in conv3d_igemm.cu.
// Built for every target (one translation unit); the body exists only for sm_90a
// (__CUDA_ARCH_FEAT_SM90_ALL): elsewhere it traps, and the host launches it only on compute 9.0.
#include "conv3d_common.cuh"

namespace {

using sr::Conv3dParams;

constexpr int C9_BM = 128, C9_BN = 256, C9_BK = 64, C9_STAGES = 4, C9_THREADS = 256;
constexpr int C9_A_BYTES = C9_BM * C9_BK * 2, C9_B_BYTES = C9_BN * C9_BK * 2, C9_STAGE_BYTES = C9_A_BYTES + C9_B_BYTES;
constexpr int C9_SMEM_BYTES = C9_STAGES * C9_STAGE_BYTES + 1024;  // + room to align the base to 1024
static_assert(C9_SMEM_BYTES == 197632 && C9_THREADS == 256 && C9_BM == 128,
              "CudaVaeKernels.ConvTile.SM90_N256 launches 256 threads with 197,632 bytes; the gather wants 128 rows");

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

__device__ __forceinline__ uint32_t c9_swz(int row, int chunk) {
    return (uint32_t)(row * 128 + ((chunk ^ (row & 7)) << 4));
}

// Shared-memory matrix descriptor: start address, leading byte offset (unused with swizzle: 1),
// stride byte offset 1024 (between 8-row atoms), 128-byte swizzle (mode 1 in bits 62-63).
__device__ __forceinline__ uint64_t c9_desc(uint32_t addr) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

__device__ __forceinline__ void c9_cp_async16(uint32_t dst, const void* src, bool pred) {
    int bytes = pred ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}

__device__ __forceinline__ void c9_wgmma(float* d, uint64_t desc_a, uint64_t desc_b, int scale_d) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}, %128, %129, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

template <bool X_BF16>
__device__ __forceinline__ void conv3d_sm90_body(const Conv3dParams& p) {
    using Raw = typename sr::ConvRaw<X_BF16>::type;
    extern __shared__ char c9_smem_raw[];
    const uint32_t raw_base = (uint32_t)__cvta_generic_to_shared(c9_smem_raw);
    const uint32_t smem = (raw_base + 1023u) & ~1023u;
    char* const smem_ptr = c9_smem_raw + (smem - raw_base);

    const int tiles_n = (p.o + C9_BN - 1) / C9_BN;
    const int tm = blockIdx.x / tiles_n, tn = blockIdx.x - (blockIdx.x / tiles_n) * tiles_n;
    const int row0 = tm * C9_BM, col0 = tn * C9_BN;
    const int steps32 = p.cb * p.kt * p.kh * p.kw;  // 32-channel steps of the packed weight
    const int ksteps = (steps32 + 1) / 2;          // 64-deep steps of this kernel
    const long long kp = (long long)steps32 * 32;  // row length of the packed weight
    const int wg = threadIdx.x >> 7;

    // ---- the A gather: thread -> output position row0 + tid % 128, chunks tid / 128 and tid / 128 + 2 of
    // each 32-channel half (the second half's chunks are 4 further)
    const int a_row = threadIdx.x & (C9_BM - 1);
    const int a_q = threadIdx.x >> 7;
    sr::ConvGather<X_BF16> gather(p, row0, a_row, a_q);
    Raw raw[32];
    auto gather_a = [&]() {
        gather.load(raw);
        gather.load(raw + 16);
    };
    auto store_a = [&](int stage) {
        char* tile = smem_ptr + stage * C9_STAGE_BYTES;
        *reinterpret_cast<uint4*>(tile + c9_swz(a_row, a_q)) = sr::conv_pack8(raw);
        *reinterpret_cast<uint4*>(tile + c9_swz(a_row, a_q + 2)) = sr::conv_pack8(raw + 8);
        *reinterpret_cast<uint4*>(tile + c9_swz(a_row, a_q + 4)) = sr::conv_pack8(raw + 16);
        *reinterpret_cast<uint4*>(tile + c9_swz(a_row, a_q + 6)) = sr::conv_pack8(raw + 24);
    };
    auto load_b = [&](int stage, int step) {
        const uint32_t tile = smem + stage * C9_STAGE_BYTES + C9_A_BYTES;
        #pragma unroll
        for (int i = 0; i < C9_BN * 8 / C9_THREADS; i++) {
            const int idx = threadIdx.x + i * C9_THREADS;
            const int r = idx >> 3, ch = idx & 7;
            const int n = col0 + r;
            const long long col = (long long)step * C9_BK + ch * 8;
            const bool ok = n < p.o && col < kp;  // kp % 8 == 0: a chunk is wholly in or out
            const uint16_t* src = ok ? p.wt + (long long)n * kp + col : p.wt;
            c9_cp_async16(tile + c9_swz(r, ch), src, ok);
        }
    };

    float d[128];
    #pragma unroll
    for (int i = 0; i < 128; i++) d[i] = 0.f;

    #pragma unroll
    for (int s = 0; s < C9_STAGES - 2; s++) {
        if (s < ksteps) {
            load_b(s, s);
            gather_a();
            store_a(s);
        }
        asm volatile("cp.async.commit_group;\n" ::);
    }
    for (int kt = 0; kt < ksteps; kt++) {
        asm volatile("cp.async.wait_group %0;\n" ::"n"(C9_STAGES - 3));
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads();
        const uint32_t sa = smem + (kt % C9_STAGES) * C9_STAGE_BYTES + wg * (64 * 128);
        const uint32_t sb = smem + (kt % C9_STAGES) * C9_STAGE_BYTES + C9_A_BYTES;
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        #pragma unroll
        for (int kk = 0; kk < C9_BK / 16; kk++) {
            c9_wgmma(d, c9_desc(sa + kk * 32), c9_desc(sb + kk * 32), 1);
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        const int next = kt + C9_STAGES - 2;
        const bool more = next < ksteps;
        if (more) gather_a();  // into registers, while the wgmmas run
        asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
        if (more) {
            load_b(next % C9_STAGES, next);
            store_a(next % C9_STAGES);
        }
        asm volatile("cp.async.commit_group;\n" ::);
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    asm volatile("cp.async.wait_group 0;\n" ::);

    // accumulator j*4 + e: row 64 wg + 16 warp + lane / 4 (+8 for e >= 2), column 8 j + 2 (lane % 4) + e % 2;
    // out is [O, M]: element (m, n) at n * M + m
    const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    #pragma unroll
    for (int h = 0; h < 2; h++) {
        const int r = row0 + wg * 64 + warp * 16 + (lane >> 2) + h * 8;
        if (r >= p.m) continue;
        #pragma unroll
        for (int j = 0; j < 32; j++) {
            #pragma unroll
            for (int e = 0; e < 2; e++) {
                const int n = col0 + j * 8 + (lane & 3) * 2 + e;
                if (n < p.o) {
                    const float b = p.bias != nullptr ? p.bias[n] : 0.f;
                    sr::store_from_float<X_BF16>(p.out, (long long)n * p.m + r, d[j * 4 + 2 * h + e] + b);
                }
            }
        }
    }
}

#endif

}  // namespace

// Grid: ceil(M / 128) * ceil(O / 256) blocks (1D), 256 threads, C9_SMEM_BYTES (197,632) dynamic shared memory
// (CudaVaeKernels.ConvTile.SM90_N256).
extern "C" __global__ void __launch_bounds__(256, 1) conv3d_igemm_sm90_f32(const Conv3dParams p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    conv3d_sm90_body<false>(p);
#else
    __trap();
#endif
}
extern "C" __global__ void __launch_bounds__(256, 1) conv3d_igemm_sm90_bf16(const Conv3dParams p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    conv3d_sm90_body<true>(p);
#else
    __trap();
#endif
}
