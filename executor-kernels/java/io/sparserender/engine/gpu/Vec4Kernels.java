package io.sparserender.engine.gpu;

import java.util.ArrayList;
import java.util.List;

/**
 * Which of {@link CudaOps}' launches take the four-elements-at-a-time kernels of tensor_ops_vec.cu: those whose
 * innermost dimension is a multiple of 4 and whose operands are aligned to 4 elements (every arena buffer is;
 * a view at an odd offset is not). Everything else runs the scalar kernels of tensor_ops.cu, which take any
 * shape, stride and offset. Both compute each element with the same code; the row kernels (LayerNorm, RMSNorm)
 * sum in another order.
 */
final class Vec4Kernels {
    static final String AXPY = "tensor_broadcast_axpy_vec4";
    static final String UNARY = "tensor_unary_vec4";
    static final String COPY = "tensor_strided_copy_vec4";
    private static final String ADA_LAYER_NORM = "tensor_ada_layer_norm_vec4x";
    private static final String RMS_NORM_ROPE = "tensor_rms_norm_rope_vec4x";
    /** Row kernels hold up to this many 4-element groups per thread in registers (one instance each). */
    private static final int[] GROUPS_PER_THREAD = {1, 2, 3, 4, 6, 8};

    static final List<String> KERNELS = kernels();

    private Vec4Kernels() {}

    private static List<String> kernels() {
        List<String> k = new ArrayList<>(List.of(AXPY, UNARY, COPY));
        for (int g : GROUPS_PER_THREAD) {
            k.add(ADA_LAYER_NORM + g);
            k.add(RMS_NORM_ROPE + g);
        }
        return List.copyOf(k);
    }

    /** Null, or its first element 4-element aligned (16 bytes in float32, 8 in bf16). */
    static boolean aligned(DeviceBuffer b) {
        return b == null || b.address() % (4L * b.dtype().byteSize()) == 0;
    }

    private static boolean allAligned(DeviceBuffer... buffers) {
        for (DeviceBuffer b : buffers) {
            if (!aligned(b)) {
                return false;
            }
        }
        return true;
    }

    /** The elementwise map over n contiguous elements of o and x. */
    static boolean unary(DeviceBuffer o, DeviceBuffer x) {
        return o.numel() % 4 == 0 && allAligned(o, x);
    }

    /**
     * The strided copy over a collapsed (dst, src) layout: fewer than 2³¹ elements, the innermost dimension a
     * multiple of 4 and contiguous on both sides, the other strides and both offsets multiples of 4, both starts
     * aligned.
     */
    static boolean copy(StridedLayout layout, DeviceBuffer dst, long dstOffset, DeviceBuffer src, long srcOffset) {
        int[] shape = layout.shape();
        int inner = shape.length - 1;
        if (inner < 0 || shape[inner] % 4 != 0 || layout.numel() >= Integer.MAX_VALUE || dstOffset % 4 != 0 || srcOffset % 4 != 0
                || !allAligned(dst, src)) {
            return false;
        }
        for (long[] s : layout.strides()) {
            if (s[inner] != 1) {
                return false;
            }
            for (int k = 0; k < inner; k++) {
                if (s[k] % 4 != 0) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * The broadcast axpy over a collapsed layout whose strides are (out, a, b, c), absent operands null: out
     * contiguous, fewer than 2³¹ elements (32-bit index arithmetic), the innermost dimension a multiple of 4, and
     * each operand either broadcast along it (stride 0) or contiguous along it with its other strides multiples of
     * 4 and its start aligned.
     */
    static boolean axpy(StridedLayout layout, DeviceBuffer o, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c) {
        int[] shape = layout.shape();
        int inner = shape.length - 1;
        if (inner < 0 || shape[inner] % 4 != 0 || o.numel() >= Integer.MAX_VALUE || !aligned(o)) {
            return false;
        }
        DeviceBuffer[] operands = {a, b, c};
        for (int i = 0; i < 3; i++) {
            if (operands[i] == null) {
                continue;
            }
            long[] s = layout.strides().get(i + 1);
            if (s[inner] == 1) {
                if (!aligned(operands[i])) {
                    return false;
                }
                for (int k = 0; k < inner; k++) {
                    if (s[k] % 4 != 0) {
                        return false;
                    }
                }
            } else if (s[inner] != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * The row kernel {@code base} for rows of {@code cols} on {@code block} threads, or null where a row does not
     * split into 4-element groups that fit the registers, or an operand is misaligned.
     */
    private static String rowKernel(String base, int cols, int block, DeviceBuffer... operands) {
        if (cols <= 0 || cols % 4 != 0 || !allAligned(operands)) {
            return null;
        }
        int groups = cols / 4;
        for (int g : GROUPS_PER_THREAD) {
            if ((long) g * block >= groups) {
                return base + g;
            }
        }
        return null;
    }

    /** tensor_ada_layer_norm's vectorised form, or null (x, out, the modulation and the affine parameters as given). */
    static String adaLayerNorm(int cols, int block, DeviceBuffer... operands) {
        return rowKernel(ADA_LAYER_NORM, cols, block, operands);
    }

    /** tensor_rms_norm_rope's vectorised form, or null: also needs D % 4 == 0 (two rotary pairs per group). */
    static String rmsNormRope(int cols, int headDim, int block, DeviceBuffer... operands) {
        return headDim % 4 != 0 ? null : rowKernel(RMS_NORM_ROPE, cols, block, operands);
    }
}
