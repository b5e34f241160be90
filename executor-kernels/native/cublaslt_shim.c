/*
 * cublaslt_shim.c: the JNI shim between io.sparserender.engine.gpu.CublasLtShim and cuBLASLt.
 *
 * Why a shim: JCuda's own cuBLAS binding is linked against libcublas.so.12 and cannot load on hosts
 * that have only CUDA 13 (or 11) libraries; Java 17 has no final foreign-function API. This file
 * needs no CUDA headers: it declares the few cuBLASLt types, enums and prototypes it uses (stable
 * across cuBLASLt 11, 12 and 13) and resolves them with dlopen/dlsym at run time from whichever
 * libcublasLt.so.N the Java side finds, so any major version present works and a host without
 * cuBLASLt still loads this library (the Java side then picks the project's own GEMM kernel).
 *
 * Build: executor-kernels/native/build-shim.sh (gcc, JNI headers of the building JDK).
 * Matrix product computed: C[M,N] (row-major) = alpha * A[M,K] (row-major bf16) . B[N,K]^T (row-major
 * bf16), fp32 accumulation, as cuBLASLt's column-major C^T = op_T(B) . A with TRANSA = T, TRANSB = N.
 * Optional epilogue (cuBLASLt's own codes: BIAS 4, GELU 32, GELU_BIAS 36): bias[N], of C's type, is added
 * per column of row-major C, i.e. per row of cuBLASLt's column-major N x M result ("bias length = rows of
 * D"), then GELU(tanh) for the GELU ones (cuBLASLt: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))).
 * FP8 (nativeMatmulFp8): A and B as E4M3 codes with one float32 scale per row of each (cuBLASLt's outer-vector
 * scales, 12.9 and later), C[i][j] = scaleA[i] * scaleB[j] * sum_k A[i][k] B[j][k] (+ bias[j]), bf16 C.
 */
#include <dlfcn.h>
#include <jni.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef int cublasStatus_t;
typedef struct cublasLtContext* cublasLtHandle_t;
typedef struct cublasLtMatmulDescOpaque* cublasLtMatmulDesc_t;
typedef struct cublasLtMatrixLayoutOpaque* cublasLtMatrixLayout_t;
typedef struct cublasLtMatmulPreferenceOpaque* cublasLtMatmulPreference_t;
typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;
typedef struct {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
} cublasLtMatmulHeuristicResult_t;

enum { CUDA_R_32F = 0, CUDA_R_16BF = 14, CUDA_R_8F_E4M3 = 28 };
enum { CUBLAS_COMPUTE_32F = 68 };
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum { CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4, CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
       CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER = 17,
       CUBLASLT_MATMUL_DESC_B_SCALE_POINTER = 18, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26,
       CUBLASLT_MATMUL_DESC_A_SCALE_MODE = 31, CUBLASLT_MATMUL_DESC_B_SCALE_MODE = 32 };
/* cublasLtMatmulMatrixScale_t (cuBLASLt 12.9+): one float32 scale per row of op(A) / column of op(B) */
enum { CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F = 3 };
enum { CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1 };

static size_t (*p_GetVersion)(void);
static cublasStatus_t (*p_Create)(cublasLtHandle_t*);
static cublasStatus_t (*p_Destroy)(cublasLtHandle_t);
static cublasStatus_t (*p_DescCreate)(cublasLtMatmulDesc_t*, int, int);
static cublasStatus_t (*p_DescDestroy)(cublasLtMatmulDesc_t);
static cublasStatus_t (*p_DescSetAttribute)(cublasLtMatmulDesc_t, int, const void*, size_t);
static cublasStatus_t (*p_LayoutCreate)(cublasLtMatrixLayout_t*, int, uint64_t, uint64_t, int64_t);
static cublasStatus_t (*p_LayoutDestroy)(cublasLtMatrixLayout_t);
static cublasStatus_t (*p_PrefCreate)(cublasLtMatmulPreference_t*);
static cublasStatus_t (*p_PrefDestroy)(cublasLtMatmulPreference_t);
static cublasStatus_t (*p_PrefSetAttribute)(cublasLtMatmulPreference_t, int, const void*, size_t);
static cublasStatus_t (*p_Heuristic)(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t,
                                     cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                     cublasLtMatmulPreference_t, int, cublasLtMatmulHeuristicResult_t*, int*);
static cublasStatus_t (*p_Matmul)(cublasLtHandle_t, cublasLtMatmulDesc_t, const void*, const void*,
                                  cublasLtMatrixLayout_t, const void*, cublasLtMatrixLayout_t, const void*,
                                  const void*, cublasLtMatrixLayout_t, void*, cublasLtMatrixLayout_t,
                                  const cublasLtMatmulAlgo_t*, void*, size_t, void*);

static void* lib;

#define RESOLVE(ptr, name)                                                               \
    do {                                                                                 \
        *(void**)(&ptr) = dlsym(h, name);                                                \
        if (!ptr) {                                                                      \
            snprintf(err, sizeof err, "%s lacks symbol %s", path, name);                 \
            dlclose(h);                                                                  \
            return (*env)->NewStringUTF(env, err);                                       \
        }                                                                                \
    } while (0)

/* Opens the library; returns null on success, else why not. */
JNIEXPORT jstring JNICALL Java_io_sparserender_engine_gpu_CublasLtShim_nativeOpen(JNIEnv* env, jclass cls, jstring jpath) {
    (void)cls;
    char err[1024];
    if (lib) return NULL;
    const char* path = (*env)->GetStringUTFChars(env, jpath, NULL);
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* e = dlerror();
        snprintf(err, sizeof err, "%s", e ? e : "dlopen failed");
        (*env)->ReleaseStringUTFChars(env, jpath, path);
        return (*env)->NewStringUTF(env, err);
    }
    RESOLVE(p_GetVersion, "cublasLtGetVersion");
    RESOLVE(p_Create, "cublasLtCreate");
    RESOLVE(p_Destroy, "cublasLtDestroy");
    RESOLVE(p_DescCreate, "cublasLtMatmulDescCreate");
    RESOLVE(p_DescDestroy, "cublasLtMatmulDescDestroy");
    RESOLVE(p_DescSetAttribute, "cublasLtMatmulDescSetAttribute");
    RESOLVE(p_LayoutCreate, "cublasLtMatrixLayoutCreate");
    RESOLVE(p_LayoutDestroy, "cublasLtMatrixLayoutDestroy");
    RESOLVE(p_PrefCreate, "cublasLtMatmulPreferenceCreate");
    RESOLVE(p_PrefDestroy, "cublasLtMatmulPreferenceDestroy");
    RESOLVE(p_PrefSetAttribute, "cublasLtMatmulPreferenceSetAttribute");
    RESOLVE(p_Heuristic, "cublasLtMatmulAlgoGetHeuristic");
    RESOLVE(p_Matmul, "cublasLtMatmul");
    (*env)->ReleaseStringUTFChars(env, jpath, path);
    lib = h;
    return NULL;
}

JNIEXPORT jlong JNICALL Java_io_sparserender_engine_gpu_CublasLtShim_nativeVersion(JNIEnv* env, jclass cls) {
    (void)env; (void)cls;
    return lib ? (jlong)p_GetVersion() : -1;
}

/* Creates a handle (needs a current CUDA context); out[0] = handle. Returns the cublasStatus. */
JNIEXPORT jint JNICALL Java_io_sparserender_engine_gpu_CublasLtShim_nativeCreate(JNIEnv* env, jclass cls, jlongArray out) {
    (void)cls;
    cublasLtHandle_t h = NULL;
    cublasStatus_t s = p_Create(&h);
    jlong v = (jlong)(intptr_t)h;
    (*env)->SetLongArrayRegion(env, out, 0, 1, &v);
    return s;
}

JNIEXPORT jint JNICALL Java_io_sparserender_engine_gpu_CublasLtShim_nativeDestroy(JNIEnv* env, jclass cls, jlong handle) {
    (void)env; (void)cls;
    return p_Destroy((cublasLtHandle_t)(intptr_t)handle);
}

/*
 * The algorithm chosen per shape and epilogue is cached (small, direct-mapped: shapes repeat every layer);
 * so is a refusal (no algorithm for an epilogue), so that a refused call costs no second heuristic query.
 */
enum { SLOT_EMPTY = 0, SLOT_ALGO = 1, SLOT_REFUSED = 2 };
typedef struct { long long key[7]; int state; cublasLtMatmulAlgo_t algo; size_t ws; } algo_slot;
static algo_slot cache[64];

/*
 * Returns 0 on success, a cublasStatus_t (> 0) from the failing call, or -1 when no algorithm fits (for an
 * epilogue: cuBLASLt refuses to fuse it for this shape; nothing was launched, the caller adds it itself).
 * stage[0] names the failing step (0 desc, 1 layouts, 2 preference, 3 heuristic, 4 matmul).
 * epilogue: 0 for none, else a cublasLtEpilogue_t; bias: device pointer of bias[N] (C's type) or 0.
 */
static int matmul(JNIEnv* env, jlong handle, int abType, jlong a, jlong b, jlong c, jint m, jint n, jint k,
                  jboolean outBf16, jfloat alpha, jint epilogue, jlong bias, jlong scaleA, jlong scaleB, jlong workspace,
                  jlong workspaceBytes, jlong stream, jintArray stage) {
    cublasLtHandle_t h = (cublasLtHandle_t)(intptr_t)handle;
    cublasLtMatmulDesc_t desc = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    int st = 0;
    cublasStatus_t s;
    int ctype = outBf16 ? CUDA_R_16BF : CUDA_R_32F;
    int opT = CUBLAS_OP_T, opN = CUBLAS_OP_N;
    float beta = 0.f;
    if ((s = p_DescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F))) goto done;
    if ((s = p_DescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof opT))) goto done;
    if ((s = p_DescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof opN))) goto done;
    if (epilogue) {
        int32_t epi = epilogue;
        const void* biasPtr = (const void*)(intptr_t)bias;
        if ((s = p_DescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi))) goto done;
        if (bias && (s = p_DescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &biasPtr, sizeof biasPtr))) goto done;
        if (bias && abType == CUDA_R_8F_E4M3
            && (s = p_DescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &ctype, sizeof ctype))) goto done;
    }
    if (abType == CUDA_R_8F_E4M3) {
        /* cuBLASLt's A is our B (one scale per output column j), its B our A (one per output row i) */
        const void* sa = (const void*)(intptr_t)scaleB;
        const void* sb = (const void*)(intptr_t)scaleA;
        int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
        if ((s = p_DescSetAttribute(desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof sa))) goto done;
        if ((s = p_DescSetAttribute(desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof sb))) goto done;
        if ((s = p_DescSetAttribute(desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof mode))) goto done;
        if ((s = p_DescSetAttribute(desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof mode))) goto done;
    }
    st = 1;
    /* column-major views: "A" = B as K x N (ld K, transposed), "B" = A as K x M (ld K), C as N x M (ld N) */
    if ((s = p_LayoutCreate(&la, abType, (uint64_t)k, (uint64_t)n, k))) goto done;
    if ((s = p_LayoutCreate(&lb, abType, (uint64_t)k, (uint64_t)m, k))) goto done;
    if ((s = p_LayoutCreate(&lc, ctype, (uint64_t)n, (uint64_t)m, n))) goto done;
    long long key[7] = {m, n, k, ctype, workspaceBytes, epilogue, abType};
    unsigned slot = (unsigned)((m * 31u + n * 17u + k * 7u + (unsigned)ctype + (unsigned)epilogue * 13u
                                + (unsigned)abType * 5u) & 63u);
    algo_slot* cs = &cache[slot];
    if (cs->state == SLOT_REFUSED && memcmp(cs->key, key, sizeof key) == 0) {
        st = 3;
        s = -1;
        goto done;
    }
    if (!(cs->state == SLOT_ALGO && memcmp(cs->key, key, sizeof key) == 0)) {
        st = 2;
        uint64_t ws = (uint64_t)workspaceBytes;
        if ((s = p_PrefCreate(&pref))) goto done;
        if ((s = p_PrefSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws))) goto done;
        st = 3;
        cublasLtMatmulHeuristicResult_t res;
        int found = 0;
        memset(&res, 0, sizeof res);
        s = p_Heuristic(h, desc, la, lb, lc, lc, pref, 1, &res, &found);
        if (s || found < 1) {
            if (epilogue || abType == CUDA_R_8F_E4M3) { /* refused for this shape: remembered, said as "no algorithm" */
                memcpy(cs->key, key, sizeof key);
                cs->state = SLOT_REFUSED;
                s = -1;
            } else if (!s) {
                s = -1;
            }
            goto done;
        }
        memcpy(cs->key, key, sizeof key);
        cs->algo = res.algo;
        cs->ws = res.workspaceSize;
        cs->state = SLOT_ALGO;
    }
    st = 4;
    s = p_Matmul(h, desc, &alpha, (const void*)(intptr_t)b, la, (const void*)(intptr_t)a, lb, &beta,
                 (const void*)(intptr_t)c, lc, (void*)(intptr_t)c, lc, &cs->algo,
                 (void*)(intptr_t)workspace, (size_t)workspaceBytes, (void*)(intptr_t)stream);
done:
    if (pref) p_PrefDestroy(pref);
    if (lc) p_LayoutDestroy(lc);
    if (lb) p_LayoutDestroy(lb);
    if (la) p_LayoutDestroy(la);
    if (desc) p_DescDestroy(desc);
    (*env)->SetIntArrayRegion(env, stage, 0, 1, &st);
    return s;
}

JNIEXPORT jint JNICALL Java_io_sparserender_engine_gpu_CublasLtShim_nativeMatmul(
        JNIEnv* env, jclass cls, jlong handle, jlong a, jlong b, jlong c, jint m, jint n, jint k,
        jboolean outBf16, jfloat alpha, jint epilogue, jlong bias, jlong workspace, jlong workspaceBytes, jlong stream,
        jintArray stage) {
    (void)cls;
    return matmul(env, handle, CUDA_R_16BF, a, b, c, m, n, k, outBf16, alpha, epilogue, bias, 0, 0, workspace,
                  workspaceBytes, stream, stage);
}

/*
 * The FP8 product: a [m, k] and b [n, k] E4M3 codes, scaleA [m] and scaleB [n] float32 (device pointers), bf16 c
 * [m, n]; epilogue 0 or BIAS (bias: bf16 [n]). Returns as nativeMatmul; -1 also where cuBLASLt has no FP8
 * algorithm for the shape (e.g. k or the leading dimensions not multiples of 16), remembered per shape.
 */
JNIEXPORT jint JNICALL Java_io_sparserender_engine_gpu_CublasLtShim_nativeMatmulFp8(
        JNIEnv* env, jclass cls, jlong handle, jlong a, jlong scaleA, jlong b, jlong scaleB, jlong c, jint m, jint n,
        jint k, jint epilogue, jlong bias, jlong workspace, jlong workspaceBytes, jlong stream, jintArray stage) {
    (void)cls;
    return matmul(env, handle, CUDA_R_8F_E4M3, a, b, c, m, n, k, JNI_TRUE, 1.f, epilogue, bias, scaleA, scaleB,
                  workspace, workspaceBytes, stream, stage);
}
