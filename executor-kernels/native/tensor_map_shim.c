/*
 * tensor_map_shim.c: Hopper TMA tensor maps for io.sparserender.engine.gpu.TensorMaps. JCuda 12.6 has no
 * CUtensorMap binding, so this resolves the driver's cuTensorMapEncodeTiled (CUDA 12.0+) from libcuda with
 * dlopen/dlsym at first use and returns the 128-byte descriptor a kernel takes as a __grid_constant__
 * parameter. Needs no CUDA headers: the prototype and the enum values it is called with are the driver API's.
 * Built into the same library as cublaslt_shim.c (build-shim.sh).
 */
#include <dlfcn.h>
#include <jni.h>
#include <stdint.h>
#include <string.h>

typedef int CUresult;
typedef struct {
    _Alignas(64) uint64_t opaque[16];
} CUtensorMap;
typedef CUresult (*EncodeTiled)(CUtensorMap* map, int dtype, uint32_t rank, void* global, const uint64_t* dims,
                                const uint64_t* strides, const uint32_t* box, const uint32_t* elementStrides,
                                int interleave, int swizzle, int l2Promotion, int oobFill);

static EncodeTiled encodeTiled;

/* 0, or -1 (no libcuda.so.1), -2 (no cuTensorMapEncodeTiled: a driver before CUDA 12), -3 (rank outside 1..5),
 * else the CUresult of cuTensorMapEncodeTiled. On 0 the descriptor's 128 bytes are in out. */
JNIEXPORT jint JNICALL Java_io_sparserender_engine_gpu_TensorMaps_nativeEncodeTiled(
        JNIEnv* env, jclass cls, jint dtype, jint rank, jlong address, jlongArray dims, jlongArray strides,
        jintArray box, jintArray elementStrides, jint interleave, jint swizzle, jint l2Promotion, jint oobFill,
        jbyteArray out) {
    (void)cls;
    if (encodeTiled == NULL) {
        void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
        if (h == NULL) {
            h = dlopen("libcuda.so.1", RTLD_NOW);
        }
        if (h == NULL) {
            return -1;
        }
        encodeTiled = (EncodeTiled)dlsym(h, "cuTensorMapEncodeTiled");
        if (encodeTiled == NULL) {
            return -2;
        }
    }
    if (rank < 1 || rank > 5) {
        return -3;
    }
    jlong d[5], s[4];
    jint b[5], e[5];
    (*env)->GetLongArrayRegion(env, dims, 0, rank, d);
    if (rank > 1) {
        (*env)->GetLongArrayRegion(env, strides, 0, rank - 1, s);
    }
    (*env)->GetIntArrayRegion(env, box, 0, rank, b);
    (*env)->GetIntArrayRegion(env, elementStrides, 0, rank, e);
    uint64_t dims64[5], strides64[4];
    uint32_t box32[5], elem32[5];
    for (int i = 0; i < rank; i++) {
        dims64[i] = (uint64_t)d[i];
        box32[i] = (uint32_t)b[i];
        elem32[i] = (uint32_t)e[i];
        if (i + 1 < rank) {
            strides64[i] = (uint64_t)s[i];
        }
    }
    CUtensorMap map;
    memset(&map, 0, sizeof map);
    CUresult r = encodeTiled(&map, dtype, (uint32_t)rank, (void*)(uintptr_t)address, dims64, strides64, box32, elem32,
                             interleave, swizzle, l2Promotion, oobFill);
    if (r == 0) {
        (*env)->SetByteArrayRegion(env, out, 0, (jsize)sizeof map, (const jbyte*)&map);
    }
    return r;
}
