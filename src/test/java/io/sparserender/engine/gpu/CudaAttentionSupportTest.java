package io.sparserender.engine.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.attention.PolicySpec;
import org.junit.jupiter.api.Test;

/** Which policies and shapes the attention kernels run, decided without a GPU. */
class CudaAttentionSupportTest {
    private static boolean supports(String spec, int headDim) {
        return CudaAttention.supports(PolicySpec.parse(spec), headDim);
    }

    @Test
    void runsTheInLoopPoliciesAtTheKernelsTilings() {
        for (int d : new int[] {64, 128}) {
            for (int bc : new int[] {32, 64}) {
                String t = "br=64,bc=" + bc;
                assertThat(supports("dense:" + t, d)).isTrue();
                assertThat(supports("blasst:scale=1," + t, d)).isTrue();
                assertThat(supports("dynsparse:lambda=-9," + t, d)).isTrue();
                assertThat(supports("dynsparse:preal=1," + t, d)).isTrue();
                assertThat(supports("recall:r=0.95,bound=max," + t, d)).isTrue();
            }
        }
    }

    @Test
    void refusesEverythingElse() {
        assertThat(supports("dense:br=64,bc=64", 96)).isFalse();
        assertThat(supports("dense:br=64,bc=64", 256)).isFalse();
        assertThat(supports("dense:br=128,bc=64", 128)).isFalse();
        assertThat(supports("dense:br=64,bc=16", 128)).isFalse();
        assertThat(supports("dense:br=64,bc=64,order=estimate", 128)).isFalse();
        assertThat(supports("topk:k=4,br=64,bc=64", 128)).isFalse();
        assertThat(supports("topp:p=0.9,br=64,bc=64", 128)).isFalse();
        assertThat(supports("recall:r=0.95,bound=exact,br=64,bc=64", 128)).isFalse();
        assertThat(supports("recall:r=0.95,bound=binned,br=64,bc=64", 128)).isFalse();
        assertThat(supports("hybrid:r=0.95,bound=max,br=64,bc=64", 128)).isFalse();
    }

    @Test
    void sharedMemoryFitsTheLargestTile() {
        assertThat(CudaAttention.smemBytes(128, 64)).isEqualTo(CudaAttention.MAX_SMEM_BYTES);
        assertThat(CudaAttention.smemBytes(64, 32)).isLessThan(CudaAttention.MAX_SMEM_BYTES);
    }
}
