package io.sparserender.engine.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.attention.VideoGrid;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which policies and shapes the attention kernels run, and which kernel path, decided without a GPU. */
class CudaAttentionSupportTest {
    private static boolean supports(String spec, int headDim) {
        return CudaAttention.supports(PolicySpec.parse(spec), headDim);
    }

    @Test
    void runsEveryPolicyOrderAndBoundAtTheKernelsTilings() {
        String[] specs = {"dense", "topk:k=3", "topp:p=0.9", "blasst:scale=1", "dynsparse:lambda=-9", "dynsparse:preal=1",
            "recall:r=0.95,bound=max", "recall:r=0.95,bound=exact", "recall:r=0.95,bound=binned", "hybrid:r=0.95",
            "hybrid:r=0.9,bound=binned,pre=0.5"};
        for (int d : new int[] {64, 128}) {
            for (int bc : new int[] {32, 64}) {
                for (String order : new String[] {"natural", "local", "estimate"}) {
                    for (String s : specs) {
                        String spec = s + (s.contains(":") ? "," : ":") + "br=64,bc=" + bc + ",order=" + order;
                        assertThat(supports(spec, d)).as(spec + " D=" + d).isTrue();
                    }
                }
            }
        }
    }

    @Test
    void refusesOtherTilingsAndHeadDimsNamingThem() {
        assertThat(supports("dense:br=64,bc=64", 96)).isFalse();
        assertThat(supports("dense:br=64,bc=64", 256)).isFalse();
        assertThat(supports("dense:br=128,bc=64", 128)).isFalse();
        assertThat(supports("topk:k=4,br=64,bc=16", 128)).isFalse();
        assertThat(CudaAttention.refusal(PolicySpec.parse("hybrid:r=0.9,bc=128"), 128))
                .isEqualTo("tiling br=64, bc=128 (the kernels have br=64, bc=32 or 64; br=128 for listed policies on ws)");
        // br = 128: listed policies with no in-loop rule or a rule the ws listed kernels take, at bc = 64 and D = 128
        for (String spec : new String[] {"topk:k=4,br=128", "topp:p=0.9,br=128,order=estimate", "hybrid:r=0.95,br=128",
            "dense:br=128,order=estimate", "blasst:scale=1,br=128,order=local", "recall:r=0.95,bound=max,br=128,order=estimate"}) {
            assertThat(supports(spec, 128)).as(spec).isTrue();
        }
        for (String spec : new String[] {"dense:br=128", "recall:r=0.95,br=128", "hybrid:r=0.95,bound=exact,br=128",
            "topk:k=4,br=128,bc=32"}) {
            assertThat(CudaAttention.refusal(PolicySpec.parse(spec), 128)).as(spec).startsWith("tiling br=128").contains("listed policies");
        }
        assertThat(CudaAttention.refusal(PolicySpec.parse("topk:k=4,br=128"), 64)).contains("head dim 64");
        assertThat(CudaAttention.refusal(PolicySpec.parse("dense"), 80)).isEqualTo("head dim 80 (the kernels have 64 and 128)");
    }

    @Test
    void theDenseFastPathKeepsTheUnlistedKernels() {
        for (String spec : new String[] {"dense:bc=64", "dense:bc=32", "blasst:scale=1", "dynsparse:lambda=-9,bc=32",
            "recall:r=0.95,bound=max"}) {
            assertThat(CudaAttention.unlisted(PolicySpec.parse(spec))).as(spec).isTrue();
        }
        for (String spec : new String[] {"dense:order=local", "dense:order=estimate", "topk:k=2", "topp:p=0.5",
            "recall:r=0.95,bound=exact", "recall:r=0.95,bound=binned", "recall:r=0.95,order=local", "hybrid:r=0.95",
            "hybrid:r=0.95,order=natural", "blasst:scale=1,order=estimate"}) {
            assertThat(CudaAttention.unlisted(PolicySpec.parse(spec))).as(spec).isFalse();
        }
    }

    @Test
    void eachHopperFamilyLaunchesItsOwnEntryPointForEveryHeadDimAndTileWidth() {
        java.util.Map<AttentionKernel, String> prefix = java.util.Map.of(AttentionKernel.WG1, "flash_attn_sm90_d",
                AttentionKernel.WG1_LEAN, "flash_attn_sm90lean_d", AttentionKernel.WG1_PV, "flash_attn_sm90pv_d",
                AttentionKernel.WG2, "flash_attn_sm90_2wg_d");
        prefix.forEach((family, start) -> {
            for (int d : new int[] {64, 128}) {
                for (int bc : new int[] {32, 64}) {
                    String name = CudaAttention.unlistedSm90Kernel(family, d, bc);
                    assertThat(name).as("%s d %d bc %d", family, d, bc).isEqualTo(start + d + "_bc" + bc);
                    assertThat(KernelModule.KERNELS).contains(name);
                }
            }
        });
        assertThatThrownBy(() -> CudaAttention.unlistedSm90Kernel(AttentionKernel.MMA_SYNC, 128, 64))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theKernelSettingIsReadAndABadOneNamesTheSetting() {
        assertThat(AttentionKernel.parse(" WG1 ", "--kernel")).isEqualTo(AttentionKernel.WG1);
        assertThat(AttentionKernel.parse("mma-sync", "--kernel")).isEqualTo(AttentionKernel.MMA_SYNC);
        String old = System.getProperty(AttentionKernel.PROPERTY);
        try {
            System.setProperty(AttentionKernel.PROPERTY, "wg1");
            assertThat(AttentionKernel.configured()).isEqualTo(AttentionKernel.WG1);
            System.setProperty(AttentionKernel.PROPERTY, "wg3");
            assertThatThrownBy(AttentionKernel::configured).isInstanceOf(GpuException.class)
                    .hasMessageContaining("Invalid attention kernel 'wg3' (sparserender.attention.kernel / SPARSE_RENDER_ATTENTION_KERNEL)")
                    .hasMessageContaining("[mma-sync, wg1, wg2, wg1-pv, wg1-lean, ws, ws-fp8]");
            assertThat(AttentionKernel.parse("WS-FP8", "--kernel")).isEqualTo(AttentionKernel.WS_FP8);
            System.clearProperty(AttentionKernel.PROPERTY);
            assumeTrue(System.getenv(AttentionKernel.ENV) == null, "the environment sets the kernel");
            assertThat(AttentionKernel.configured()).as("the fastest measured is the default").isEqualTo(AttentionKernel.WS);
        } finally {
            if (old == null) {
                System.clearProperty(AttentionKernel.PROPERTY);
            } else {
                System.setProperty(AttentionKernel.PROPERTY, old);
            }
        }
    }

    @Test
    void theTwoWarpgroupKernelFitsHoppersSharedMemory() {
        // Two Q tiles, two K and two Vᵀ blocks at D = 128 (99,328 bytes): within the 227 KiB a CTA may opt in to.
        assertThat(CudaAttention.SM90_2WG_MAX_SMEM_BYTES).isEqualTo((128 + 4 * 64) * 128 * 2 + 1024).isLessThanOrEqualTo(227 * 1024);
        assertThat(CudaAttention.sm90TwoWgSmemBytes(64)).isLessThan(CudaAttention.SM90_2WG_MAX_SMEM_BYTES);
    }

    @Test
    void recallModesAndThresholdsFollowTheReferenceRule() {
        int[] max = CudaAttention.modeAndThreshold(PolicySpec.parse("recall:r=0.95,bound=max"), 1000);
        assertThat(max[0]).isEqualTo(CudaAttention.MODE_RECALL_MAX);
        assertThat(Float.intBitsToFloat(max[1])).isEqualTo((float) (0.05 / 0.95) * (1 - 1e-3f));
        assertThat(CudaAttention.modeAndThreshold(PolicySpec.parse("recall:r=0.9,bound=exact"), 1000)[0])
                .isEqualTo(CudaAttention.MODE_RECALL_EXACT);
        assertThat(CudaAttention.modeAndThreshold(PolicySpec.parse("recall:r=0.9,bound=binned"), 1000)[0])
                .isEqualTo(CudaAttention.MODE_RECALL_BINNED);
        // hybrid runs the in-loop rule at 1 − (1 − pre)(1 − r) = 1 − 0.8·0.05 = 0.96
        int[] hy = CudaAttention.modeAndThreshold(PolicySpec.parse("hybrid:r=0.95,pre=0.2"), 1000);
        double loop = 1 - 0.8 * 0.05;
        assertThat(Float.intBitsToFloat(hy[1])).isEqualTo((float) ((1 - loop) / loop) * (1 - 1e-3f));
        assertThat(CudaAttention.modeAndThreshold(PolicySpec.parse("topk:k=2"), 1000)[0]).isEqualTo(CudaAttention.MODE_DENSE);
    }

    @Test
    void planChecksNameTheProblem() {
        assertThatThrownBy(() -> AttentionPlanner.check(PolicySpec.parse("recall:r=0.9,order=local"), AttentionOptions.NONE, 1, 100, 1))
                .hasMessageContaining("order=local needs the token grid");
        assertThatThrownBy(() -> AttentionPlanner.check(PolicySpec.parse("topk:k=2,order=local"),
                AttentionOptions.withGrid(new VideoGrid(1, 9, 9)), 1, 100, 1))
                .hasMessageContaining("grid 1x9x9 has 81 tokens, the input has L = 100");
        assertThatThrownBy(() -> AttentionPlanner.check(PolicySpec.parse("topk:k=2,bc=32"), AttentionOptions.NONE, 1, 8193 * 32, 1))
                .hasMessageContaining("8193 kv-tiles, the planner sorts at most 8192");
        AttentionPlanner.check(PolicySpec.parse("dense:bc=32"), AttentionOptions.NONE, 1, 8193 * 32, 1); // no plan: any L
        assertThat(AttentionPlanner.npow2(1)).isEqualTo(1);
        assertThat(AttentionPlanner.npow2(853)).isEqualTo(1024);
        assertThat(AttentionPlanner.npow2(8192)).isEqualTo(8192);
        assertThat(AttentionPlanner.PLAN_SMEM_BYTES).as("within sm_86/89's 99 KiB opt-in").isLessThanOrEqualTo(101376);
    }

    @Test
    void sharedMemoryFitsTheLargestTile() {
        assertThat(CudaAttention.smemBytes(128, 64)).isEqualTo(CudaAttention.MAX_SMEM_BYTES);
        assertThat(CudaAttention.smemBytes(64, 32)).isLessThan(CudaAttention.MAX_SMEM_BYTES);
    }

    /** A kernel name the module looks up but the fatbin lacks would only fail on a device; caught here when nvcc built it. */
    @Test
    void thePackedFatbinHoldsEveryKernelTheModuleLoads() {
        Optional<FatbinImage> packed = FatbinImage.packed();
        assumeTrue(packed.isPresent(), "no fatbin packed (nvcc absent at build time)");
        String bytes = new String(packed.get().bytes(), StandardCharsets.ISO_8859_1);
        for (String name : KernelModule.KERNELS) {
            assertThat(bytes).as("kernel " + name + " in the fatbin").contains(name + "\0");
        }
    }
}
