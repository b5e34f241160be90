// Probe: cuBLASLt FP8 (E4M3) matmul with outer-vector and scalar scales on this card; compares with a double reference.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cuda_fp8.h>
#include <cuda_bf16.h>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <vector>
#include <algorithm>
#define CK(x) do { cudaError_t e = (x); if (e) { printf("cuda %s line %d\n", cudaGetErrorString(e), __LINE__); exit(1);} } while (0)
static int run(int mode, int M, int N, int K, bool bias, bool fast, bool timeOnly = false) {
    // ours: A [M,K] activations, B [N,K] weights, C [M,N] row-major = A * B^T.
    // cuBLASLt column-major: C^T [N,M] = op(Bcm)^T ... with TRANSA = T on B (as [K,N] col-major, ld K), TRANSB = N on A.
    std::vector<__nv_fp8_e4m3> a((size_t)M * K), b((size_t)N * K);
    std::vector<float> sa(M), sb(N);
    srand(1);
    if (!timeOnly) for (auto& x : a) x = __nv_fp8_e4m3((rand() / (float)RAND_MAX * 2 - 1) * 400);
    for (auto& x : b) x = __nv_fp8_e4m3((rand() / (float)RAND_MAX * 2 - 1) * 400);
    for (int i = 0; i < M; i++) sa[i] = mode == 0 ? 0.01f : 0.001f * (1 + i % 7);
    for (int i = 0; i < N; i++) sb[i] = mode == 0 ? 0.02f : 0.002f * (1 + i % 5);
    std::vector<__nv_bfloat16> hb(N);
    for (int i = 0; i < N; i++) hb[i] = __float2bfloat16(0.5f * (i % 3));
    void *da, *db, *dc, *dsa, *dsb, *dbias, *ws;
    CK(cudaMalloc(&da, (size_t)M * K)); CK(cudaMalloc(&db, (size_t)N * K)); CK(cudaMalloc(&dc, (size_t)M * N * 2));
    CK(cudaMalloc(&dsa, M * 4)); CK(cudaMalloc(&dsb, N * 4)); CK(cudaMalloc(&dbias, N * 2)); CK(cudaMalloc(&ws, 64 << 20));
    CK(cudaMemcpy(da, a.data(), (size_t)M * K, cudaMemcpyHostToDevice)); CK(cudaMemcpy(db, b.data(), N * K, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dsa, sa.data(), M * 4, cudaMemcpyHostToDevice)); CK(cudaMemcpy(dsb, sb.data(), N * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dbias, hb.data(), N * 2, cudaMemcpyHostToDevice));
    cublasLtHandle_t h; cublasLtCreate(&h);
    cublasLtMatmulDesc_t d; cublasLtMatmulDescCreate(&d, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    cublasOperation_t t = CUBLAS_OP_T, n = CUBLAS_OP_N;
    cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t);
    cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &n, sizeof n);
    // cuBLASLt's A = our B (weights), its B = our A (activations)
    cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &dsb, sizeof dsb);
    cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &dsa, sizeof dsa);
    if (mode == 1) {
        cublasLtMatmulMatrixScale_t m = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
        int s1 = cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &m, sizeof m);
        int s2 = cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &m, sizeof m);
        printf("  scale mode attrs %d %d (OUTER_VEC=%d, A_SCALE_MODE=%d B_SCALE_MODE=%d)\n", s1, s2, (int)m,
               (int)CUBLASLT_MATMUL_DESC_A_SCALE_MODE, (int)CUBLASLT_MATMUL_DESC_B_SCALE_MODE);
    }
    if (fast) { int8_t f = 1; cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &f, sizeof f); }
    if (bias) {
        cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_BIAS;
        cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep);
        cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &dbias, sizeof dbias);
        cudaDataType_t bt = CUDA_R_16BF;
        cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt);
    }
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatrixLayoutCreate(&la, CUDA_R_8F_E4M3, K, N, K);
    cublasLtMatrixLayoutCreate(&lb, CUDA_R_8F_E4M3, K, M, K);
    cublasLtMatrixLayoutCreate(&lc, CUDA_R_16BF, N, M, N);
    cublasLtMatmulPreference_t pref; cublasLtMatmulPreferenceCreate(&pref);
    size_t wsb = 64 << 20;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb);
    cublasLtMatmulHeuristicResult_t r; int cnt = 0;
    int hs = cublasLtMatmulAlgoGetHeuristic(h, d, la, lb, lc, lc, pref, 1, &r, &cnt);
    printf("mode %s M %d N %d K %d bias %d fast %d: heuristic status %d count %d\n", mode ? "outer-vec" : "scalar", M, N, K, bias, fast, hs, cnt);
    if (hs || !cnt) return 1;
    float alpha = 1, beta = 0;
    int ms = cublasLtMatmul(h, d, &alpha, db, la, da, lb, &beta, dc, lc, dc, lc, &r.algo, ws, wsb, 0);
    CK(cudaDeviceSynchronize());
    if (timeOnly) {
        cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
        std::vector<float> ts;
        for (int it = 0; it < 12; it++) {
            cudaEventRecord(e0);
            cublasLtMatmul(h, d, &alpha, db, la, da, lb, &beta, dc, lc, dc, lc, &r.algo, ws, wsb, 0);
            cudaEventRecord(e1); cudaEventSynchronize(e1);
            float ms_; cudaEventElapsedTime(&ms_, e0, e1); ts.push_back(ms_);
        }
        std::sort(ts.begin() + 2, ts.end());
        float med = ts[2 + 5];
        printf("  time %.4f ms = %.0f TFLOP/s\n", med, 2.0 * M * N * K / (med * 1e-3) / 1e12);
        return 0;
    }
    std::vector<__nv_bfloat16> c((size_t)M * N);
    CK(cudaMemcpy(c.data(), dc, M * N * 2, cudaMemcpyDeviceToHost));
    double num = 0, den = 0, worst = 0;
    for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) {
        double ref = 0;
        for (int k = 0; k < K; k++) ref += (double)(float)a[i * K + k] * (double)(float)b[j * K + k];
        ref = ref * sa[i] * sb[j] + (bias ? (double)__bfloat162float(hb[j]) : 0);
        double got = __bfloat162float(c[i * N + j]);
        num += (got - ref) * (got - ref); den += ref * ref;
        worst = fmax(worst, fabs(got - ref) / (fabs(ref) + 1e-3));
    }
    printf("  matmul status %d rel_l2 %.3e worst rel %.3e\n", ms, sqrt(num / den), worst);
    // timing at the DiT shape
    return 0;
}
int main() {
    int v = cublasLtGetVersion();
    printf("cublasLt %d\n", v);
    run(0, 256, 384, 512, false, false);
    run(1, 256, 384, 512, false, false);
    run(1, 256, 384, 512, true, false);
    run(1, 300, 200, 96, true, false);
    run(1, 1, 16, 16, false, false);
    run(1, 256, 384, 512, false, true);
    run(1, 77, 3072, 3072, true, false);
    for (int mode = 0; mode < 2; mode++) {
        run(mode, 54560, 3072, 3072, false, false, true);
        run(mode, 54560, 14336, 3072, true, false, true);
        run(mode, 54560, 3072, 14336, true, false, true);
        run(mode, 54560, 3072, 3072, false, true, true);
    }
    return 0;
}
