package io.sparserender.engine.gpu;

import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import io.sparserender.engine.tensor.DType;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;

/**
 * The packed fatbin loaded once with {@code cuModuleLoadData} (cuModuleLoadFatBinary fails with the
 * same bytes under JCuda, REFERENCE.md) and every kernel looked up once. Must be made on the thread
 * that holds the context (the GPU worker).
 */
final class KernelModule {
    /** Every kernel the engine launches; a name missing from the fatbin fails the start, not a clip. */
    static final List<String> KERNELS = Stream.concat(Stream.of(
            "fill_u32", "fill_u16", "fill_uniform_bf16",
            "elementwise_add_f32", "elementwise_add_bf16", "elementwise_scale_f32", "elementwise_scale_bf16",
            "elementwise_silu_f32", "elementwise_silu_bf16", "elementwise_gelu_tanh_f32", "elementwise_gelu_tanh_bf16",
            "convert_f32_to_bf16", "convert_bf16_to_f32",
            "layer_norm_f32", "layer_norm_bf16", "rms_norm_f32", "rms_norm_bf16",
            "softmax_rows_f32", "softmax_rows_bf16",
            OwnGemm.KERNEL_F32, OwnGemm.KERNEL_BF16, OwnGemm.KERNEL_F32_UNALIGNED, OwnGemm.KERNEL_BF16_UNALIGNED,
            OwnGemm.KERNEL_SM90_F32, OwnGemm.KERNEL_SM90_BF16,
            CudaAttention.KERNEL_D64_BC64, CudaAttention.KERNEL_D128_BC64,
            CudaAttention.KERNEL_D64_BC32, CudaAttention.KERNEL_D128_BC32,
            CudaAttention.KERNEL_SM90_D64_BC64, CudaAttention.KERNEL_SM90_D128_BC64,
            CudaAttention.KERNEL_SM90_D64_BC32, CudaAttention.KERNEL_SM90_D128_BC32, CudaAttention.KERNEL_TRANSPOSE_V,
            CudaAttention.KERNEL_SM90_2WG_D64_BC64, CudaAttention.KERNEL_SM90_2WG_D128_BC64,
            CudaAttention.KERNEL_SM90_2WG_D64_BC32, CudaAttention.KERNEL_SM90_2WG_D128_BC32,
            CudaAttention.KERNEL_SM90PV_D64_BC64, CudaAttention.KERNEL_SM90PV_D128_BC64,
            CudaAttention.KERNEL_SM90PV_D64_BC32, CudaAttention.KERNEL_SM90PV_D128_BC32,
            CudaAttention.KERNEL_SM90LEAN_D64_BC64, CudaAttention.KERNEL_SM90LEAN_D128_BC64,
            CudaAttention.KERNEL_SM90LEAN_D64_BC32, CudaAttention.KERNEL_SM90LEAN_D128_BC32,
            CudaAttention.KERNEL_SM90WS_DENSE_D128_BC64, CudaAttention.KERNEL_SM90WS_DENSE_D128_BC32,
            CudaAttention.KERNEL_LIST_D64_BC64, CudaAttention.KERNEL_LIST_D128_BC64,
            CudaAttention.KERNEL_LIST_D64_BC32, CudaAttention.KERNEL_LIST_D128_BC32,
            CudaAttention.KERNEL_SM90_LIST_D64_BC64, CudaAttention.KERNEL_SM90_LIST_D128_BC64,
            CudaAttention.KERNEL_SM90_LIST_D64_BC32, CudaAttention.KERNEL_SM90_LIST_D128_BC32,
            TmaProbe.KERNEL,
            AttentionPlanner.KERNEL_POOL, AttentionPlanner.KERNEL_SCORES, AttentionPlanner.KERNEL_PLAN, AttentionPlanner.KERNEL_LOCAL,
            AttentionPlanner.KERNEL_GLOBAL_QUERY, AttentionPlanner.KERNEL_GLOBAL_SCORES, AttentionPlanner.KERNEL_GLOBAL_TOP,
            CudaRecall.KERNEL,
            // tensor_ops.cu and dense_attention.cu: the model-level CudaOps
            "tensor_strided_copy", "tensor_gather_rows", "tensor_broadcast_axpy", "tensor_unary", "tensor_ada_layer_norm", "tensor_rope",
            "tensor_rms_norm_rope", "tensor_linear_f32", "dense_attention_d64", "dense_attention_d128",
            CudaOps.KERNEL_FP8_QUANTIZE),
            Stream.of(CudaVaeKernels.KERNELS, Vec4Kernels.KERNELS, CudaAttention.KERNELS_SM90WS_RULES, CudaAttention.KERNELS_SM90WS_LIST,
                    CudaAttention.KERNELS_SM90WS_LIST128, CudaFp8Attention.KERNELS)
                    .flatMap(List::stream)).toList();

    private final CUmodule module;
    private final Map<String, CUfunction> functions = new HashMap<>();

    /** @param hopper the device is compute 9.0: the sm_90a kernels get their 193 KiB of shared memory */
    KernelModule(FatbinImage image, boolean hopper) {
        module = new CUmodule();
        CudaCheck.check(cuModuleLoadData(module, image.bytes()), "cuModuleLoadData", "the packed fatbin " + image);
        for (String name : KERNELS) {
            CUfunction f = new CUfunction();
            int r = cuModuleGetFunction(f, module, name);
            if (r != 0) {
                throw new GpuException("Kernel " + name + " is missing from the packed fatbin ("
                        + CudaCheck.message(r, "cuModuleGetFunction", "kernel " + name) + ")");
            }
            functions.put(name, f);
        }
        for (String name : List.of(OwnGemm.KERNEL_F32, OwnGemm.KERNEL_BF16, OwnGemm.KERNEL_F32_UNALIGNED, OwnGemm.KERNEL_BF16_UNALIGNED)) {
            CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, OwnGemm.SMEM_BYTES),
                    "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
        }
        for (String name : List.of(CudaAttention.KERNEL_D64_BC64, CudaAttention.KERNEL_D128_BC64,
                CudaAttention.KERNEL_D64_BC32, CudaAttention.KERNEL_D128_BC32,
                CudaAttention.KERNEL_LIST_D64_BC64, CudaAttention.KERNEL_LIST_D128_BC64,
                CudaAttention.KERNEL_LIST_D64_BC32, CudaAttention.KERNEL_LIST_D128_BC32)) {
            CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CudaAttention.MAX_SMEM_BYTES),
                    "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
        }
        for (String name : List.of("dense_attention_d64", "dense_attention_d128")) {
            CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CudaOps.denseAttentionSmem(128)),
                    "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
        }
        // The planner's sort buffers: 96 KiB + scratch at 8192 kv-tiles, within every target's opt-in limit (99 KiB on sm_86/89).
        for (String name : List.of(AttentionPlanner.KERNEL_PLAN, AttentionPlanner.KERNEL_LOCAL)) {
            CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, AttentionPlanner.PLAN_SMEM_BYTES),
                    "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
        }
        for (CudaVaeKernels.ConvTile t : CudaVaeKernels.ConvTile.values()) {
            if (t.hopperOnly() && !hopper) {
                continue; // 193 KiB of shared memory exist on compute 9.0 only
            }
            for (String name : List.of(t.kernel(DType.F32), t.kernel(DType.BF16))) {
                CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                        CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, t.smemBytes()),
                        "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
            }
        }
        if (hopper) {
            for (String name : List.of(CudaAttention.KERNEL_SM90_D64_BC64, CudaAttention.KERNEL_SM90_D128_BC64,
                    CudaAttention.KERNEL_SM90_D64_BC32, CudaAttention.KERNEL_SM90_D128_BC32,
                    CudaAttention.KERNEL_SM90LEAN_D64_BC64, CudaAttention.KERNEL_SM90LEAN_D128_BC64,
                    CudaAttention.KERNEL_SM90LEAN_D64_BC32, CudaAttention.KERNEL_SM90LEAN_D128_BC32,
                    CudaAttention.KERNEL_SM90_LIST_D64_BC64, CudaAttention.KERNEL_SM90_LIST_D128_BC64,
                    CudaAttention.KERNEL_SM90_LIST_D64_BC32, CudaAttention.KERNEL_SM90_LIST_D128_BC32)) {
                CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                        CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CudaAttention.SM90_MAX_SMEM_BYTES),
                        "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
            }
            for (String name : Stream.concat(Stream.of(CudaAttention.KERNEL_SM90WS_DENSE_D128_BC64,
                    CudaAttention.KERNEL_SM90WS_DENSE_D128_BC32), CudaAttention.KERNELS_SM90WS_RULES.stream()).toList()) {
                CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                        CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CudaAttention.SM90WS_SMEM_BYTES),
                        "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
            }
            CudaCheck.check(cuFuncSetAttribute(functions.get(CudaFp8Attention.KERNEL),
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CudaFp8Attention.SMEM_BYTES),
                    "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + CudaFp8Attention.KERNEL);
            CudaCheck.check(cuFuncSetAttribute(functions.get(CudaFp8Attention.KERNEL_LIST128),
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CudaFp8Attention.LIST_SMEM_BYTES),
                    "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + CudaFp8Attention.KERNEL_LIST128);
            for (String name : CudaAttention.KERNELS_SM90WS_LIST) {
                CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                        CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CudaAttention.SM90WS_LIST_SMEM_BYTES),
                        "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
            }
            for (String name : CudaAttention.KERNELS_SM90WS_LIST128) {
                CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                        CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CudaAttention.SM90WS_LIST128_SMEM_BYTES),
                        "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
            }
            for (String name : List.of(CudaAttention.KERNEL_SM90PV_D64_BC64, CudaAttention.KERNEL_SM90PV_D128_BC64,
                    CudaAttention.KERNEL_SM90PV_D64_BC32, CudaAttention.KERNEL_SM90PV_D128_BC32)) {
                CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                        CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CudaAttention.SM90PV_MAX_SMEM_BYTES),
                        "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
            }
            for (String name : List.of(CudaAttention.KERNEL_SM90_2WG_D64_BC64, CudaAttention.KERNEL_SM90_2WG_D128_BC64,
                    CudaAttention.KERNEL_SM90_2WG_D64_BC32, CudaAttention.KERNEL_SM90_2WG_D128_BC32)) {
                CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                        CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, CudaAttention.SM90_2WG_MAX_SMEM_BYTES),
                        "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
            }
            for (String name : List.of(OwnGemm.KERNEL_SM90_F32, OwnGemm.KERNEL_SM90_BF16)) {
                CudaCheck.check(cuFuncSetAttribute(functions.get(name),
                        CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, OwnGemm.SM90_SMEM_BYTES),
                        "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", "kernel " + name);
            }
        }
    }

    CUfunction function(String name) {
        CUfunction f = functions.get(name);
        if (f == null) {
            throw new IllegalArgumentException("Unknown kernel " + name + " (not in KernelModule.KERNELS)");
        }
        return f;
    }

    void unload() {
        cuModuleUnload(module);
    }
}
