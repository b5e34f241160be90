package io.sparserender.engine.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.gpu.CudaVaeKernels.ConvTile;
import org.junit.jupiter.api.Test;

/** conv3d's sizes and refusals, and the tile choice, on the CPU (no device needed). */
class Conv3dGeometryTest {
    @Test
    void outputShapeAndGemmView() {
        // the 5B VAE's widest stage: 256 channels, 4 new frames + 2 cached, 352 x 640, 3x3x3, padding 1
        Conv3dGeometry g = Conv3dGeometry.of(new int[] {256, 6, 352, 640}, new int[] {256, 256, 3, 3, 3}, 1, 1);
        assertThat(g.outShape()).containsExactly(256, 4, 352, 640);
        assertThat(g.m()).isEqualTo(4 * 352 * 640);
        assertThat(g.k()).isEqualTo(256L * 27);
        assertThat(g.packedK()).isEqualTo(8 * 27 * 32);
        assertThat(g.flops()).isEqualTo(2.0 * 901_120 * 256 * 6912);
        // channels not a multiple of 32 are padded to whole blocks in the packed weight
        Conv3dGeometry odd = Conv3dGeometry.of(new int[] {33, 1, 5, 7}, new int[] {70, 33, 1, 3, 3}, 0, 2);
        assertThat(odd.outShape()).containsExactly(70, 1, 3, 9);
        assertThat(odd.channelBlocks()).isEqualTo(2);
        assertThat(odd.packedK()).isEqualTo(2 * 9 * 32);
    }

    @Test
    void refusesBadShapesNamingThem() {
        assertThatThrownBy(() -> Conv3dGeometry.of(new int[] {3, 1, 4, 4}, new int[] {2, 4, 1, 3, 3}, 1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("input [3, 1, 4, 4]").hasMessageContaining("weight [2, 4, 1, 3, 3]");
        assertThatThrownBy(() -> Conv3dGeometry.of(new int[] {3, 2, 4, 4}, new int[] {2, 3, 3, 3, 3}, 1, 1))
                .hasMessageContaining("smaller than kernel [3, 3, 3]");
        assertThatThrownBy(() -> Conv3dGeometry.of(new int[] {3, 1, 4, 4}, new int[] {2, 3, 1, 3, 3}, -1, 1))
                .hasMessageContaining("padding -1x1");
        assertThatThrownBy(() -> Conv3dGeometry.of(new int[] {3, 1, 50_000, 50_000}, new int[] {2, 3, 1, 1, 1}, 0, 0))
                .hasMessageContaining("too large for one launch");
    }

    @Test
    void tileFollowsTheOutputChannels() {
        assertThat(ConvTile.forChannels(1024)).isEqualTo(ConvTile.N256);
        assertThat(ConvTile.forChannels(512)).isEqualTo(ConvTile.N256);
        assertThat(ConvTile.forChannels(256)).isEqualTo(ConvTile.N256);
        assertThat(ConvTile.forChannels(300)).isEqualTo(ConvTile.N128);
        assertThat(ConvTile.forChannels(96)).isEqualTo(ConvTile.N128);
        assertThat(ConvTile.forChannels(48)).isEqualTo(ConvTile.N64);
        assertThat(ConvTile.forChannels(12)).isEqualTo(ConvTile.N32);
        assertThat(ConvTile.forChannels(3)).isEqualTo(ConvTile.N32);
        // shared memory as conv3d_igemm.cu allocates it: 4 stages x (128 + BN) rows x 64 bytes
        assertThat(ConvTile.N256.smemBytes()).isEqualTo(98_304);
        assertThat(ConvTile.N32.smemBytes()).isEqualTo(40_960);
        // the wgmma kernel: C9_SMEM_BYTES in conv3d_igemm_sm90.cu; never picked by forChannels (CudaVaeKernels.tileFor swaps it in)
        assertThat(ConvTile.SM90_N256.smemBytes()).isEqualTo(197_632);
        for (int o = 1; o <= 4096; o++) {
            assertThat(ConvTile.forChannels(o).hopperOnly()).isFalse();
        }
    }

    @Test
    void benchShapesParseWithTheVaesPadding() {
        for (String s : Conv3dBenchmark.WAN22_SHAPES) {
            Conv3dGeometry g = Conv3dBenchmark.parseShape(s);
            assertThat(g.padH()).as(s).isEqualTo(g.kh() / 2);
            assertThat(g.outH()).as(s).isEqualTo(g.h()); // "same" padding in space
            assertThat(g.outT()).as(s).isIn(1, 2, 4);    // steady-state chunks: 1, 2 or 4 new frames
        }
        Conv3dGeometry widest = Conv3dBenchmark.parseShape("256x6x352x640:256:3x3x3");
        assertThat(widest.outShape()).containsExactly(256, 4, 352, 640);
        assertThatThrownBy(() -> Conv3dBenchmark.parseShape("256x6x352:256:3x3x3"))
                .hasMessageContaining("expected CxTxHxW:O:KTxKHxKW");
    }

    @Test
    void paramsStructMatchesTheKernelsLayout() {
        // struct Conv3dParams: 4 pointers, one long long, 13 ints -> 8*4 + 8 + 13*4 = 92, padded to 96
        Conv3dGeometry g = Conv3dGeometry.of(new int[] {3, 1, 4, 4}, new int[] {2, 3, 1, 3, 3}, 1, 1);
        assertThat(CudaVaeKernels.convParams(g, null, null, null, null).size()).isEqualTo(96);
    }
}
