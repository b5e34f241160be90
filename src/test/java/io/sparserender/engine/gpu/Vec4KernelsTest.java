package io.sparserender.engine.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.Test;

/**
 * Which launches take the four-elements-at-a-time kernels (no GPU needed: the choice reads shapes, strides and
 * addresses only). A wrong "yes" would be a misaligned vector load on the device, so every condition is checked on
 * both sides: the DiT's and the VAE's shapes take the vectorised path; odd widths, views at odd offsets, strided
 * innermost dimensions and rows too wide for the registers do not.
 */
class Vec4KernelsTest {
    private static final long BASE = 1L << 20; // arena buffers start 256-byte aligned

    private static DeviceBuffer buffer(DType dtype, int... shape) {
        return new DeviceBuffer(null, dtype, shape, BASE, new CUdeviceptr());
    }

    /** The layout CudaOps builds for out = a + s·b·c (out contiguous, operands broadcast), collapsed. */
    private static StridedLayout axpyLayout(DeviceBuffer o, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c) {
        int[] out = o.shape();
        List<long[]> strides = new ArrayList<>();
        strides.add(StridedLayout.contiguous(out));
        for (DeviceBuffer t : new DeviceBuffer[] {a, b, c}) {
            strides.add(t == null ? new long[out.length] : StridedLayout.broadcastStrides(t.shape(), out));
        }
        return new StridedLayout(out, strides).collapsed();
    }

    private static boolean axpy(DeviceBuffer o, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c) {
        return Vec4Kernels.axpy(axpyLayout(o, a, b, c), o, a, b, c);
    }

    @Test
    void theResidualUpdateIsVectorisedAtTheDitsWidthsOnly() {
        DeviceBuffer x = buffer(DType.F32, 2, 27280, 3072);
        DeviceBuffer y = buffer(DType.BF16, 2, 27280, 3072);
        DeviceBuffer gate = buffer(DType.F32, 2, 1, 3072);
        assertThat(axpy(x, x, y, gate)).as("gated, gate [B, 1, C]").isTrue();
        assertThat(axpy(x, x, y, null)).as("ungated").isTrue();
        DeviceBuffer narrow = buffer(DType.F32, 2, 37, 301);
        assertThat(axpy(narrow, narrow, buffer(DType.BF16, 2, 37, 301), buffer(DType.F32, 2, 1, 301))).as("width 301").isFalse();
        DeviceBuffer column = buffer(DType.F32, 6, 1);
        DeviceBuffer six = buffer(DType.F32, 6, 4);
        assertThat(axpy(six, six, column, null)).as("an operand broadcast along the innermost dimension").isTrue();
        DeviceBuffer oneIn = buffer(DType.F32, 25).view(1, 6, 4);
        assertThat(axpy(six, six, oneIn, null)).as("an operand view one element in: misaligned").isFalse();
        assertThat(axpy(six, six, buffer(DType.F32, 28).view(4, 6, 4), null)).as("a view four elements in").isTrue();
    }

    @Test
    void aVeryLargeBroadcastStaysScalar() {
        DeviceBuffer huge = buffer(DType.BF16, 1 << 16, 1 << 15); // 2^31 elements: past 32-bit index arithmetic
        assertThat(axpy(huge, huge, huge, null)).isFalse();
    }

    @Test
    void copiesAreVectorisedWhereBothSidesRunContiguouslyAndAligned() {
        DeviceBuffer src = buffer(DType.F32, 6, 3, 4, 12);
        DeviceBuffer dst = buffer(DType.F32, 6, 5, 4, 12);
        long[] srcStrides = StridedLayout.contiguous(src.shape());
        long[] dstStrides = StridedLayout.contiguous(dst.shape());
        StridedLayout concat = new StridedLayout(src.shape(), List.of(dstStrides, srcStrides)).collapsed();
        assertThat(Vec4Kernels.copy(concat, dst, 2L * 4 * 12, src, 0)).as("concat along time, the VAE's cache").isTrue();
        assertThat(Vec4Kernels.copy(concat, dst, 3, src, 0)).as("an odd destination offset").isFalse();
        assertThat(Vec4Kernels.copy(concat, dst, 0, src, 5)).as("an odd source offset").isFalse();
        // a permute that moves the innermost dimension: the source's innermost stride is not 1
        int[] permuted = {6, 3, 12, 4};
        long[] moved = {srcStrides[0], srcStrides[1], srcStrides[3], srcStrides[2]};
        StridedLayout transpose = new StridedLayout(permuted, List.of(StridedLayout.contiguous(permuted), moved)).collapsed();
        assertThat(Vec4Kernels.copy(transpose, buffer(DType.F32, permuted), 0, src, 0)).isFalse();
    }

    @Test
    void rowKernelsHoldUpToEightGroupsPerThread() {
        DeviceBuffer x = buffer(DType.F32, 4, 3072);
        DeviceBuffer o = buffer(DType.BF16, 4, 3072);
        assertThat(Vec4Kernels.adaLayerNorm(3072, 256, o, x)).isEqualTo("tensor_ada_layer_norm_vec4x3");
        assertThat(Vec4Kernels.adaLayerNorm(5120, 256, o, x)).as("A14B: 5 groups round up to 6").isEqualTo("tensor_ada_layer_norm_vec4x6");
        assertThat(Vec4Kernels.adaLayerNorm(8192, 256, o, x)).isEqualTo("tensor_ada_layer_norm_vec4x8");
        assertThat(Vec4Kernels.adaLayerNorm(8196, 256, o, x)).as("too wide for the registers").isNull();
        assertThat(Vec4Kernels.adaLayerNorm(301, 256, o, x)).as("not a multiple of 4").isNull();
        assertThat(Vec4Kernels.adaLayerNorm(3072, 256, o, x.view(2, 2, 3072))).as("a misaligned view").isNull();
        assertThat(Vec4Kernels.rmsNormRope(3072, 128, 256, o, x)).isEqualTo("tensor_rms_norm_rope_vec4x3");
        assertThat(Vec4Kernels.rmsNormRope(3070, 10, 256, o, x)).as("head width 10: a group would straddle two heads").isNull();
        assertThat(Vec4Kernels.KERNELS).contains("tensor_ada_layer_norm_vec4x3", "tensor_rms_norm_rope_vec4x6",
                Vec4Kernels.AXPY, Vec4Kernels.UNARY, Vec4Kernels.COPY);
    }

    @Test
    void elementwiseMapsNeedAMultipleOfFourElements() {
        assertThat(Vec4Kernels.unary(buffer(DType.BF16, 54560, 14336), buffer(DType.BF16, 54560, 14336))).isTrue();
        assertThat(Vec4Kernels.unary(buffer(DType.F32, 3, 17, 301), buffer(DType.F32, 3, 17, 301))).isFalse();
        DeviceBuffer x = buffer(DType.BF16, 64);
        assertThat(Vec4Kernels.unary(x.view(2, 60), x.view(2, 60))).as("bf16 view 4 bytes in: not 8-byte aligned").isFalse();
        assertThat(Vec4Kernels.unary(x.view(4, 60), x.view(4, 60))).as("bf16 view 8 bytes in").isTrue();
    }
}
