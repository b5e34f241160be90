package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.assertClose;
import static io.sparserender.testing.GpuTestDevice.cudaOps;
import static io.sparserender.testing.GpuTestDevice.poisonFreeArena;
import static io.sparserender.testing.GpuTestDevice.random;
import static io.sparserender.testing.GpuTestDevice.roundBf16;
import static io.sparserender.testing.GpuTestDevice.uniform;
import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.testing.RequiresGpu;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CUDA backend of Ops against CpuOps (the float32 reference) on fresh random inputs of awkward
 * shapes. Before every operation the arena's free memory is poisoned, so an output element the kernel
 * never wrote reads as NaN and fails the comparison. Float32 results are compared at fp32 tolerance;
 * results the backend writes in bf16 (GEMMs, fused norms, RoPE, attention) at bf16 tolerance against the
 * reference run on the same bf16-rounded inputs.
 */
@RequiresGpu
@SuppressWarnings("try")
class CudaOpsGpuTest {
    private static final CpuOps CPU = new CpuOps();

    private static Tensor rand(SplittableRandom r, double lo, double hi, int... shape) {
        return new Tensor(uniform(r, (int) Tensor.numel(shape), lo, hi), shape);
    }

    private static Tensor bf16(Tensor t) {
        return new Tensor(roundBf16(t.data()), t.shape());
    }

    private static float[] run(java.util.function.Supplier<DeviceBuffer> op) {
        CudaOps ops = cudaOps();
        try (DeviceArena.Scope s = ops.device().arena().scope()) {
            DeviceBuffer out = ops.device().call(op::get);
            return ops.toHost(out).data();
        }
    }

    private static void exact(String what, Tensor expected, java.util.function.Supplier<DeviceBuffer> op) {
        poisonFreeArena();
        assertClose(run(op), expected.data(), 0, 0, what);
    }

    @Test
    void layoutOperationsMoveEveryElement() {
        SplittableRandom r = random("cuda ops layout");
        CudaOps g = cudaOps();
        Tensor x = rand(r, -5, 5, 3, 5, 7, 2);
        exact("permute", CPU.permute(x, 2, 0, 3, 1), () -> g.permute(g.fromHost(x), 2, 0, 3, 1));
        exact("permute identity", CPU.permute(x, 0, 1, 2, 3), () -> g.permute(g.fromHost(x), 0, 1, 2, 3));
        exact("slice inner", CPU.slice(x, 2, 1, 6), () -> g.slice(g.fromHost(x), 2, 1, 6));
        exact("slice outer", CPU.slice(x, 0, 1, 3), () -> g.slice(g.fromHost(x), 0, 1, 3));
        exact("slice last", CPU.slice(x, 3, 1, 2), () -> g.slice(g.fromHost(x), 3, 1, 2));
        Tensor y = rand(r, -5, 5, 3, 5, 4, 2);
        exact("concat", CPU.concat(2, List.of(x, y)), () -> g.concat(2, List.of(g.fromHost(x), g.fromHost(y))));
        exact("reshape+permute", CPU.permute(CPU.reshape(x, 15, 14), 1, 0),
                () -> g.permute(g.reshape(g.fromHost(x), 15, 14), 1, 0));
        // a 8-D permute as the DiT's unpatchify does it
        Tensor p = rand(r, -1, 1, 2, 3, 2, 5, 1, 2, 2, 3);
        exact("unpatchify permute", CPU.permute(p, 0, 7, 1, 4, 2, 5, 3, 6),
                () -> g.permute(g.fromHost(p), 0, 7, 1, 4, 2, 5, 3, 6));
    }

    /**
     * The device gather ({@code tensor_gather_rows}) against the host one (Gather.rows through CpuOps) bit for bit, every
     * element written: float32 and bf16 tables of odd widths, ids with repeats, the first and last row, a one-row table; an
     * id outside the table is refused with its position before anything is launched.
     */
    @ParameterizedTest(name = "table {0} x {1}, {2} ids, bf16 {3}")
    @CsvSource({"32, 64, 262144, false", "37, 13, 1001, true", "1, 1, 7, false", "5, 3, 9, true"})
    void embeddingGathersTheSameRowsAsTheHost(int rows, int cols, int n, boolean bf16Table) {
        SplittableRandom r = random("cuda ops embedding " + rows + "x" + cols);
        CudaOps g = cudaOps();
        Tensor table = bf16(rand(r, -3, 3, rows, cols));
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = i < 2 ? i * (rows - 1) : r.nextInt(rows);
        }
        exact("embedding", CPU.embedding(table, ids), () -> {
            DeviceBuffer t = g.fromHost(table);
            return g.embedding(bf16Table ? g.convert(t, DType.BF16) : t, ids);
        });
        int[] bad = {0, rows};
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> run(() -> g.embedding(g.fromHost(table), bad)))
                .hasMessageContaining("id " + rows + " at position 1").hasMessageContaining(rows + " rows");
    }

    /**
     * Copies that take the four-elements-at-a-time kernel (innermost runs a multiple of 4, aligned offsets) beside
     * ones that cannot (an odd slice start, a permute that moves the innermost dimension), in float32 and bf16.
     */
    @Test
    void vectorisedCopiesMoveEveryElement() {
        SplittableRandom r = random("cuda ops vectorised copies");
        CudaOps g = cudaOps();
        Tensor prev = rand(r, -5, 5, 6, 2, 4, 12);
        Tensor x = rand(r, -5, 5, 6, 3, 4, 12);
        exact("concat over time (the VAE's cache)", CPU.concat(1, List.of(prev, x)), () -> g.concat(1, List.of(g.fromHost(prev), g.fromHost(x))));
        exact("slice of the last frames", CPU.slice(x, 1, 1, 3), () -> g.slice(g.fromHost(x), 1, 1, 3));
        exact("slice inner, aligned start", CPU.slice(x, 3, 4, 12), () -> g.slice(g.fromHost(x), 3, 4, 12));
        exact("slice inner, odd start", CPU.slice(x, 3, 3, 11), () -> g.slice(g.fromHost(x), 3, 3, 11));
        exact("permute keeping the inner dimension", CPU.permute(x, 1, 0, 2, 3), () -> g.permute(g.fromHost(x), 1, 0, 2, 3));
        exact("permute moving it", CPU.permute(x, 0, 1, 3, 2), () -> g.permute(g.fromHost(x), 0, 1, 3, 2));
        Tensor xb = bf16(x);
        exact("bf16 round trip", xb, () -> g.convert(g.convert(g.fromHost(xb), DType.BF16), DType.F32));
        exact("bf16 concat", CPU.concat(1, List.of(bf16(prev), xb)),
                () -> g.convert(g.concat(1, List.of(g.convert(g.fromHost(bf16(prev)), DType.BF16), g.convert(g.fromHost(xb), DType.BF16))), DType.F32));
    }

    @ParameterizedTest(name = "{0} op {1}")
    @CsvSource({
        "'2,7,13', '2,7,13'",
        "'2,7,13', '2,1,13'",
        "'2,7,13', '13'",
        "'5,1', '3,1,6'",
        "'1', '4,3'",
        "'1000003', '1000003'",
        // four elements at a time (tensor_ops_vec.cu): the gate [B, 1, C], rows, a column broadcast, a long run
        "'2,7,12', '2,1,12'",
        "'3,8', '8'",
        "'6,4', '6,1'",
        "'1000004', '1000004'",
    })
    void broadcastArithmeticIsExactInFloat32(String as, String bs) {
        SplittableRandom r = random("cuda ops broadcast " + as + " " + bs);
        CudaOps g = cudaOps();
        Tensor a = rand(r, -4, 4, dims(as));
        Tensor b = rand(r, -4, 4, dims(bs));
        exact("add", CPU.add(a, b), () -> g.add(g.fromHost(a), g.fromHost(b)));
        exact("sub", CPU.sub(a, b), () -> g.sub(g.fromHost(a), g.fromHost(b)));
        exact("mul", CPU.mul(a, b), () -> g.mul(g.fromHost(a), g.fromHost(b)));
        exact("addScalar", CPU.addScalar(a, 0.37f), () -> g.addScalar(g.fromHost(a), 0.37f));
        exact("scale", CPU.scale(a, -1.9f), () -> g.scale(g.fromHost(a), -1.9f));
        Tensor c = rand(r, -2, 2, dims(bs));
        Tensor gated = CPU.add(a, CPU.mul(b, c));
        if (java.util.Arrays.equals(gated.shape(), a.shape())) {
            exact("addGated", gated, () -> g.addGated(g.fromHost(a), g.fromHost(b), g.fromHost(c)));
        }
    }

    /** Width 301: the scalar kernels; 304 (element count a multiple of 4): the vectorised elementwise ones. */
    @ParameterizedTest(name = "width {0}")
    @CsvSource({"301", "304"})
    void activationsAndNormsMatchAtFloat32Tolerance(int width) {
        SplittableRandom r = random("cuda ops norms " + width);
        CudaOps g = cudaOps();
        Tensor x = rand(r, -6, 6, 3, 17, width);
        Tensor gamma = rand(r, 0.5, 1.5, width);
        Tensor beta = rand(r, -1, 1, width);
        check("silu", CPU.silu(x), () -> g.silu(g.fromHost(x)), 1e-6, 1e-5);
        check("gelu", CPU.geluTanh(x), () -> g.geluTanh(g.fromHost(x)), 1e-6, 1e-5);
        check("clamp", CPU.clamp(x, -1, 1), () -> g.clamp(g.fromHost(x), -1, 1), 0, 0);
        check("layerNorm", CPU.layerNorm(x, gamma, beta, 1e-6f), () -> g.layerNorm(g.fromHost(x), g.fromHost(gamma), g.fromHost(beta), 1e-6f), 1e-5, 1e-4);
        check("layerNorm bare", CPU.layerNorm(x, null, null, 1e-6f), () -> g.layerNorm(g.fromHost(x), null, null, 1e-6f), 1e-5, 1e-4);
        check("rmsNorm", CPU.rmsNorm(x, gamma, 1e-6f), () -> g.rmsNorm(g.fromHost(x), g.fromHost(gamma), 1e-6f), 1e-5, 1e-4);
        check("rmsNorm no gamma", CPU.rmsNorm(x, null, 1e-6f), () -> g.rmsNorm(g.fromHost(x), null, 1e-6f), 1e-5, 1e-4);
        Tensor xb = bf16(x);
        check("rmsNorm bf16", CPU.rmsNorm(xb, gamma, 1e-6f), () -> {
            DeviceBuffer out = g.rmsNorm(g.convert(g.fromHost(xb), DType.BF16), g.fromHost(gamma), 1e-6f);
            assertThat(out.dtype()).isEqualTo(DType.BF16);
            return out;
        }, 1e-2, 8e-3);
        check("softmax", CPU.softmax(x), () -> g.softmax(g.fromHost(x)), 1e-7, 1e-4);
    }

    /**
     * Widths: 301 (the scalar kernel), 256 (vectorised, one group per thread), 3072 (the 5B DiT's, three) and 5120
     * (A14B's: six groups per thread, the last only partly filled).
     */
    @ParameterizedTest(name = "modulation rows {0}, width {1}")
    @CsvSource({"1, 256", "37, 256", "1, 301", "37, 301", "1, 3072", "5, 5120"})
    void fusedAdaLayerNormAndRopeMatchTheComposition(int modRows, int width) {
        SplittableRandom r = random("cuda ops adaLN/rope " + modRows + " " + width);
        CudaOps g = cudaOps();
        int rows = modRows == 1 ? 37 : modRows;
        Tensor x = rand(r, -3, 3, 2, rows, width);
        Tensor shift = rand(r, -1, 1, 2, modRows, width);
        Tensor scale = rand(r, -1, 1, 2, modRows, width);
        Tensor expected = ((Ops<Tensor>) CPU).adaLayerNorm(x, shift, scale, 1e-6f);
        check("adaLayerNorm", expected, () -> g.adaLayerNorm(g.fromHost(x), g.fromHost(shift), g.fromHost(scale), 1e-6f), 1e-2, 8e-3);

        Tensor q = rand(r, -2, 2, 2, 37, 3, 64);
        Tensor cos = rand(r, -1, 1, 37, 1, 32, 1);
        Tensor sin = rand(r, -1, 1, 37, 1, 32, 1);
        check("rope", CPU.rope(q, cos, sin), () -> g.rope(g.fromHost(q), g.fromHost(cos), g.fromHost(sin)), 1e-2, 8e-3);
    }

    /**
     * The bf16 path twice: with the bias as a parameter (its bf16 copy made at upload, so cuBLASLt adds it in
     * the GEMM's epilogue) and as a plain float32 tensor (no copy: the bias pass of its own).
     */
    /**
     * The residual update written over the stream (float32 stream, bf16 update, float32 gate [B, 1, C] or
     * none, as the DiT's blocks do), and a new tensor where it cannot be (bf16 stream with a float32 update,
     * a stream the update broadcasts over).
     */
    @ParameterizedTest(name = "width {0}")
    @CsvSource({"301", "3072"})
    void updateResidualWritesOverTheStreamWhereItCan(int width) {
        SplittableRandom r = random("cuda ops updateResidual " + width);
        CudaOps g = cudaOps();
        Tensor x = rand(r, -4, 4, 2, 37, width);
        Tensor y = bf16(rand(r, -4, 4, 2, 37, width));
        Tensor gate = rand(r, -2, 2, 2, 1, width);
        check("updateResidual gated, in place", CPU.addGated(x, y, gate), () -> {
            DeviceBuffer stream = g.fromHost(x);
            DeviceBuffer out = g.updateResidual(stream, g.convert(g.fromHost(y), DType.BF16), g.fromHost(gate));
            assertThat(out).as("the result is the stream's own buffer").isSameAs(stream);
            return out;
        }, 1e-6, 1e-6);
        check("updateResidual ungated, in place", CPU.add(x, y), () -> {
            DeviceBuffer stream = g.fromHost(x);
            DeviceBuffer out = g.updateResidual(stream, g.convert(g.fromHost(y), DType.BF16), null);
            assertThat(out).isSameAs(stream);
            return out;
        }, 0, 0);
        Tensor xb = bf16(x);
        check("updateResidual, bf16 stream and float32 update: a new float32 tensor", CPU.addGated(xb, y, gate), () -> {
            DeviceBuffer stream = g.convert(g.fromHost(xb), DType.BF16);
            DeviceBuffer out = g.updateResidual(stream, g.fromHost(y), g.fromHost(gate));
            assertThat(out).isNotSameAs(stream);
            assertThat(out.dtype()).isEqualTo(DType.F32);
            return out;
        }, 1e-6, 1e-6);
        Tensor narrow = rand(r, -4, 4, 2, 1, width);
        check("updateResidual, broadcast stream: a new tensor", CPU.add(narrow, y), () -> {
            DeviceBuffer stream = g.fromHost(narrow);
            DeviceBuffer out = g.updateResidual(stream, g.fromHost(y), null);
            assertThat(out).isNotSameAs(stream);
            return out;
        }, 0, 0);
    }

    /**
     * The cross-attention's LayerNorm written in bf16 against the float32 LayerNorm, affine and bare, odd rows; width
     * 301 (the scalar kernel) and 3072 (vectorised).
     */
    @ParameterizedTest(name = "width {0}")
    @CsvSource({"301", "3072"})
    void layerNormForProductMatchesLayerNormInBf16(int width) {
        SplittableRandom r = random("cuda ops layerNormForProduct " + width);
        CudaOps g = cudaOps();
        Tensor x = rand(r, -6, 6, 3, 37, width);
        Tensor gamma = rand(r, 0.5, 1.5, width);
        Tensor beta = rand(r, -1, 1, width);
        check("layerNormForProduct affine", CPU.layerNorm(x, gamma, beta, 1e-6f), () -> {
            DeviceBuffer out = g.layerNormForProduct(g.fromHost(x), g.parameter(gamma), g.parameter(beta), 1e-6f);
            assertThat(out.dtype()).isEqualTo(DType.BF16);
            return out;
        }, 1e-2, 8e-3);
        check("layerNormForProduct bare", CPU.layerNorm(x, null, null, 1e-6f),
                () -> g.layerNormForProduct(g.fromHost(x), null, null, 1e-6f), 1e-2, 8e-3);
    }

    /**
     * The fused q/k RMSNorm + RoPE against the composition on the CPU: bf16 input (written over, as the DiT
     * gives it the product), float32 input (a new bf16 tensor), no gamma, and head widths 64, 128 and 10.
     */
    @ParameterizedTest(name = "B={0} L={1} H={2} D={3}")
    @CsvSource({"2, 37, 3, 64", "1, 37, 2, 128", "2, 5, 5, 10", "2, 9, 24, 128", "1, 3, 40, 128", "1, 7, 3, 6"})
    void fusedRmsNormRopeMatchesTheComposition(int b, int l, int h, int d) {
        SplittableRandom r = random("cuda ops rmsNormRope " + b + "," + l + "," + h + "," + d);
        CudaOps g = cudaOps();
        Tensor x = bf16(rand(r, -3, 3, b, l, h * d));
        Tensor gamma = rand(r, 0.5, 1.5, h * d);
        Tensor cos = rand(r, -1, 1, l, 1, d / 2, 1);
        Tensor sin = rand(r, -1, 1, l, 1, d / 2, 1);
        Ops<Tensor> cpu = CPU;
        check("rmsNormRope bf16, over x", cpu.rmsNormRope(x, gamma, 1e-6f, cos, sin, h), () -> {
            DeviceBuffer in = g.convert(g.fromHost(x), DType.BF16);
            DeviceBuffer out = g.rmsNormRope(in, g.parameter(gamma), 1e-6f, g.fromHost(cos), g.fromHost(sin), h);
            assertThat(out.shape()).containsExactly(b, l, h, d);
            assertThat(out.sameStart(in)).as("written over its input").isTrue();
            return out;
        }, 1e-2, 8e-3);
        check("rmsNormRope f32 in, no gamma", cpu.rmsNormRope(x, null, 1e-6f, cos, sin, h), () -> {
            DeviceBuffer out = g.rmsNormRope(g.fromHost(x), null, 1e-6f, g.fromHost(cos), g.fromHost(sin), h);
            assertThat(out.dtype()).isEqualTo(DType.BF16);
            return out;
        }, 1e-2, 8e-3);
    }

    @ParameterizedTest(name = "rows {0}, in {1}, out {2}")
    @CsvSource({"2, 256, 1536", "1, 7, 5", "300, 96, 130", "1031, 128, 384", "37, 96, 130", "37, 3072, 3072"})
    void linearMatchesTheReference(int rows, int in, int out) {
        SplittableRandom r = random("cuda ops linear " + rows + "x" + in + "x" + out);
        CudaOps g = cudaOps();
        Tensor x = rand(r, -1, 1, rows, in);
        Tensor w = bf16(rand(r, -0.2, 0.2, out, in));
        Tensor b = rand(r, -1, 1, out);
        if (rows <= CudaOps.F32_LINEAR_MAX_ROWS) {
            // float32 input, few rows: the float32 path (weights stored bf16, so the reference uses the rounded weights)
            check("linear f32", CPU.linear(x, w, b), () -> g.linear(g.fromHost(x), g.parameter(w), g.fromHost(b)), 1e-5, 1e-4);
        }
        Tensor xb = bf16(x);
        float[] want = CPU.linear(xb, w, b).data();
        float[] separate = run(() -> g.linear(g.convert(g.fromHost(xb), DType.BF16), g.parameter(w), g.fromHost(b)));
        assertThat(relL2(separate, want)).as("linear bf16, bias pass of its own: relative L2").isLessThan(1e-2);
        float[] epilogue = run(() -> {
            DeviceBuffer bias = g.parameter(b);
            assertThat(g.device().epilogueBiases().bf16Of(bias)).as("the bias parameter's bf16 copy").isNotNull();
            return g.linear(g.convert(g.fromHost(xb), DType.BF16), g.parameter(w), bias);
        });
        assertThat(relL2(epilogue, want)).as("linear bf16, bias in the epilogue: relative L2").isLessThan(1e-2);
    }

    /**
     * linearGeluTanh against geluTanh(linear) on the CPU: the float32 small-row path (activation pass after it),
     * the bf16 path with the bias as a parameter (the bias in cuBLASLt's epilogue, GELU a pass of its own: its GELU
     * epilogue into bf16 is too coarse), as a plain tensor (bias
     * and activation passes of their own) and without bias (GELU epilogue).
     */
    @ParameterizedTest(name = "rows {0}, in {1}, out {2}")
    @CsvSource({"1, 7, 5", "37, 96, 130", "300, 96, 136", "1031, 128, 384"})
    void linearGeluTanhMatchesTheReference(int rows, int in, int out) {
        SplittableRandom r = random("cuda ops linear gelu " + rows + "x" + in + "x" + out);
        CudaOps g = cudaOps();
        Tensor x = rand(r, -1, 1, rows, in);
        Tensor w = bf16(rand(r, -0.5, 0.5, out, in));
        Tensor b = rand(r, -1, 1, out);
        if (rows <= CudaOps.F32_LINEAR_MAX_ROWS) {
            check("linearGeluTanh f32", CPU.geluTanh(CPU.linear(x, w, b)),
                    () -> g.linearGeluTanh(g.fromHost(x), g.parameter(w), g.parameter(b)), 1e-5, 1e-4);
        }
        Tensor xb = bf16(x);
        float[] want = CPU.geluTanh(CPU.linear(xb, w, b)).data();
        float[] fused = run(() -> g.linearGeluTanh(g.convert(g.fromHost(xb), DType.BF16), g.parameter(w), g.parameter(b)));
        assertThat(relL2(fused, want)).as("linearGeluTanh bf16, bias parameter: relative L2").isLessThan(1e-2);
        float[] separate = run(() -> g.linearGeluTanh(g.convert(g.fromHost(xb), DType.BF16), g.parameter(w), g.fromHost(b)));
        assertThat(relL2(separate, want)).as("linearGeluTanh bf16, plain bias: relative L2").isLessThan(1e-2);
        float[] noBias = run(() -> g.linearGeluTanh(g.convert(g.fromHost(xb), DType.BF16), g.parameter(w), null));
        assertThat(relL2(noBias, CPU.geluTanh(CPU.linear(xb, w, null)).data())).as("linearGeluTanh bf16, no bias: relative L2")
                .isLessThan(1e-2);
    }

    /**
     * D 64 and 128 with a bias or mask run dense_attention.cu; D 128 without either the ws kernel on compute 9.0 (the
     * DiT's cross-attention; partial key blocks, one key, a key length of 7) and dense_attention.cu elsewhere; other
     * widths (the VAE's 1024, tiny models) per-head GEMMs.
     */
    @ParameterizedTest(name = "B={0} Lq={1} Lk={2} H={3} D={4} bias={5} mask={6}")
    @CsvSource({
        "2, 77, 130, 3, 128, false, false",
        "1, 200, 512, 2, 128, false, false",
        "2, 300, 7, 2, 128, false, false",
        "1, 129, 1, 3, 128, false, false",
        "2, 50, 90, 2, 128, false, true",
        "2, 33, 33, 4, 64, true, true",
        "1, 129, 64, 2, 64, true, false",
        "2, 5, 300, 1, 64, false, true",
        "2, 40, 70, 3, 32, true, true",
        "1, 300, 300, 1, 256, false, false",
    })
    void denseAttentionMatchesTheReference(int b, int lq, int lk, int h, int d, boolean withBias, boolean withMask) {
        SplittableRandom r = random("cuda ops attention " + b + "," + lq + "," + lk + "," + h + "," + d);
        CudaOps g = cudaOps();
        Tensor q = bf16(rand(r, -2, 2, b, lq, h, d));
        Tensor k = bf16(rand(r, -2, 2, b, lk, h, d));
        Tensor v = bf16(rand(r, -2, 2, b, lk, h, d));
        Tensor bias = withBias ? rand(r, -3, 3, h, lq, lk) : null;
        Tensor mask = null;
        if (withMask) {
            float[] m = new float[b * lk];
            for (int i = 0; i < m.length; i++) {
                m[i] = i % lk < Math.max(1, lk - 7 - i / lk) ? 1 : 0; // a padded tail per row, never empty
            }
            mask = new Tensor(m, b, lk);
        }
        float scale = (float) (1 / Math.sqrt(d));
        Tensor expected = CPU.attention(q, k, v, scale, bias, mask);
        Tensor fm = mask;
        poisonFreeArena();
        float[] got = run(() -> g.attention(g.convert(g.fromHost(q), DType.BF16), g.convert(g.fromHost(k), DType.BF16),
                g.convert(g.fromHost(v), DType.BF16), scale, bias == null ? null : g.fromHost(bias), fm == null ? null : g.fromHost(fm)));
        for (float f : got) {
            assertThat(Float.isFinite(f)).as("every output element written and finite").isTrue();
        }
        assertThat(relL2(got, expected.data())).as("attention relative L2").isLessThan(1e-2);
    }

    @Test
    void scopedKeepsTheResultAndFreesTheRest() {
        SplittableRandom r = random("cuda ops scoped");
        CudaOps g = cudaOps();
        Tensor a = rand(r, -1, 1, 1000, 33);
        DeviceArena arena = g.device().arena();
        try (DeviceArena.Scope outer = arena.scope()) {
            DeviceBuffer in = g.fromHost(a);
            long before = arena.usedBytes();
            // result made last (straddling its landing place after many temporaries)
            DeviceBuffer kept = g.device().call(() -> g.scoped(() -> {
                DeviceBuffer t = g.scale(in, 2f);
                DeviceBuffer u = g.addScalar(t, 1f);
                return g.silu(u);
            }));
            assertClose(g.toHost(kept).data(), CPU.silu(CPU.addScalar(CPU.scale(a, 2f), 1f)).data(), 1e-6, 1e-5, "kept");
            assertThat(arena.usedBytes() - before).isLessThanOrEqualTo(kept.byteSize() + DeviceArena.ALIGNMENT);
            // result made first: stays where it is
            DeviceBuffer first = g.device().call(() -> g.scoped(() -> {
                DeviceBuffer t = g.scale(in, 3f);
                g.addScalar(t, 1f);
                return t;
            }));
            assertClose(g.toHost(first).data(), CPU.scale(a, 3f).data(), 0, 0, "kept first");
            // a result from outside the scope passes through
            DeviceBuffer same = g.device().call(() -> g.scoped(() -> in));
            assertThat(same).isSameAs(in);
        }
    }

    private static void check(String what, Tensor expected, java.util.function.Supplier<DeviceBuffer> op, double atol, double rtol) {
        poisonFreeArena();
        assertClose(run(op), expected.data(), atol, rtol, what);
    }

    private static int[] dims(String s) {
        return java.util.Arrays.stream(s.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    static double relL2(float[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            double diff = (double) a[i] - b[i];
            num += diff * diff;
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }
}
