package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.ops;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.sparserender.engine.tensor.HalfFloats;
import io.sparserender.testing.RequiresGpu;
import org.junit.jupiter.api.Test;

/**
 * The TMA path a producer-warp attention kernel will build on: a tensor map encoded through the shim, passed as a
 * grid-constant parameter, one box loaded with the 128-byte swizzle and read back through the layout function the
 * wgmma kernels use. Compared with the same box sliced on the host (zeros outside the matrix), on a matrix shaped
 * like one head of [L, H·D] with L not a multiple of 64.
 */
@RequiresGpu
class TmaGpuTest {
    @Test
    void boxesLoadedByTmaAreTheHostSlicesWithZerosOutside() {
        CudaKernels k = ops();
        assumeTrue(OwnGemm.isHopper(k.device().info()), "TMA needs compute 9.0");
        int rows = 1000;
        int cols = 24 * 128; // [L, H·D] of 24 heads of 128
        float[] host = new float[rows * cols];
        java.util.Random rnd = new java.util.Random(11);
        for (int i = 0; i < host.length; i++) {
            host[i] = HalfFloats.roundToBf16((float) rnd.nextGaussian());
        }
        try (DeviceArena.Scope s = k.device().arena().scope()) {
            DeviceBuffer m = k.uploadBf16(host, rows, cols);
            // head 5's 128 columns as their own matrix (row stride = H·D), boxes of 64 rows × 64 columns
            int head = 5;
            // the map starts at the head's first column (a view of the rest of the buffer) with row stride H·D
            DeviceBuffer fromHead = m.view(head * 128L, rows * cols - head * 128);
            byte[] map = TensorMaps.bf16Matrix(fromHead, rows, 128, cols, 64, 64);
            int[][] corners = {{0, 0}, {448, 64}, {960, 0}, {960, 64}, {999, 64}};
            for (int[] rc : corners) {
                float[] got = TmaProbe.loadBox(k.device(), map, rc[0], rc[1]).toFloats();
                float[] want = new float[64 * 64];
                for (int r = 0; r < 64; r++) {
                    for (int c = 0; c < 64; c++) {
                        int gr = rc[0] + r;
                        int gc = rc[1] + c;
                        want[r * 64 + c] = gr < rows && gc < 128 ? host[gr * cols + head * 128 + gc] : 0f;
                    }
                }
                assertThat(got).as("box at row %d, column %d", rc[0], rc[1]).containsExactly(want);
            }
        }
    }
}
