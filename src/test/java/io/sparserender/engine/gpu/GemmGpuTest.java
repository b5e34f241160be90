package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.poisoned;
import static io.sparserender.testing.GpuTestDevice.random;
import static io.sparserender.testing.GpuTestDevice.roundBf16;
import static io.sparserender.testing.GpuTestDevice.uniform;
import static io.sparserender.testing.GpuTestDevice.POISON16;
import static io.sparserender.testing.GpuTestDevice.POISON32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.sparserender.engine.ops.reference.GemmBf16;
import io.sparserender.engine.tensor.DType;
import io.sparserender.testing.RequiresGpu;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Both GEMM implementations against the Java twin (double accumulation of the same bf16 inputs), for
 * shapes that are not tile multiples, K not a multiple of 8 (the unaligned path) and both outputs.
 * Tolerance: fp32 accumulation error at most 1e-5 of sum |a||b| per element, plus half a bf16 ulp of
 * the result when C is bf16.
 */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class GemmGpuTest {
    @ParameterizedTest(name = "{0} {1}x{2}x{3}")
    @CsvSource({
        "own, 1, 1, 1", "own, 3, 5, 7", "own, 130, 260, 40", "own, 257, 129, 1000", "own, 300, 520, 777",
        "own, 129, 3072, 3072", "own, 1000, 1000, 1024", "own, 17, 33, 8", "own, 1, 300, 64", "own, 200, 1, 136",
        "own-mma-sync, 3, 5, 8", "own-mma-sync, 257, 129, 1000", "own-mma-sync, 129, 3072, 3072", "own-mma-sync, 1000, 1000, 1024",
        "cublaslt, 1, 1, 1", "cublaslt, 3, 5, 7", "cublaslt, 257, 129, 1000", "cublaslt, 300, 520, 776",
        "cublaslt, 129, 3072, 3072",
    })
    void matchesTheTwin(String impl, int m, int n, int k) {
        CudaKernels ops = ops();
        Gemm gemm;
        if (impl.equals("own")) {
            gemm = ops.device().ownGemm();
        } else if (impl.equals("own-mma-sync")) {
            gemm = ops.device().ownGemmMmaSync();
        } else {
            assumeTrue(ops.device().cublasLtGemm().isPresent(), "cuBLASLt not usable here: " + ops.device().cublasLtProblem());
            gemm = ops.device().cublasLtGemm().get();
        }
        SplittableRandom r = random("gemm " + impl + " " + m + "x" + n + "x" + k);
        float[] a = roundBf16(uniform(r, m * k, -1, 1));
        float[] b = roundBf16(uniform(r, n * k, -1, 1));
        float alpha = 0.75f;
        float[] want = GemmBf16.apply(a, b, m, n, k, alpha);
        float[] absSum = absSum(a, b, m, n, k, alpha);
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer da = ops.uploadBf16(a, m, k);
            DeviceBuffer db = ops.uploadBf16(b, n, k);
            DeviceBuffer c32 = poisoned(DType.F32, m, n);
            gemm.matmul(da, db, c32, alpha);
            check(c32, want, absSum, false, gemm.name() + " f32 out");
            DeviceBuffer c16 = poisoned(DType.BF16, m, n);
            gemm.matmul(da, db, c16, alpha);
            check(c16, want, absSum, true, gemm.name() + " bf16 out");
        }
    }

    /**
     * cuBLASLt's fused epilogues against the twin plus the epilogue in double: the bias per column of C
     * (per output feature), in C's dtype as the epilogue reads it. Odd shapes may be refused (then C must be
     * left as it was); the DiT's shapes (N, K multiples of 8) must be fused.
     */
    @ParameterizedTest(name = "{0} {1}x{2}x{3}")
    @CsvSource({
        "BIAS, 37, 130, 96", "BIAS, 1, 1, 1", "BIAS, 3, 5, 7", "BIAS, 257, 3072, 3072", "BIAS, 129, 384, 128",
        "GELU_BIAS, 37, 130, 96", "GELU_BIAS, 3, 5, 7", "GELU_BIAS, 33, 14336, 3072", "GELU_BIAS, 129, 384, 128",
        "GELU, 37, 136, 96", "GELU, 129, 384, 128",
    })
    void cublasLtEpiloguesMatchTheTwin(Gemm.Epilogue epilogue, int m, int n, int k) {
        CudaKernels ops = ops();
        assumeTrue(ops.device().cublasLtGemm().isPresent(), "cuBLASLt not usable here: " + ops.device().cublasLtProblem());
        Gemm gemm = ops.device().cublasLtGemm().get();
        SplittableRandom r = random("gemm epilogue " + epilogue + " " + m + "x" + n + "x" + k);
        float[] a = roundBf16(uniform(r, m * k, -1, 1));
        float[] b = roundBf16(uniform(r, n * k, -1, 1));
        float[] bias = epilogue.takesBias ? roundBf16(uniform(r, n, -2, 2)) : new float[n];
        float[] product = GemmBf16.apply(a, b, m, n, k, 1f);
        float[] absSum = absSum(a, b, m, n, k, 1f);
        float[] want = new float[m * n];
        for (int i = 0; i < want.length; i++) {
            want[i] = (float) epilogueOf(epilogue, (double) product[i] + bias[i % n]);
            absSum[i] += Math.abs(bias[i % n]);
        }
        boolean mustFuseBias = n % 8 == 0 && k % 8 == 0;
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer da = ops.uploadBf16(a, m, k);
            DeviceBuffer db = ops.uploadBf16(b, n, k);
            for (DType out : new DType[] {DType.F32, DType.BF16}) {
                DeviceBuffer dbias = !epilogue.takesBias ? null : out == DType.BF16 ? ops.uploadBf16(bias, n) : ops.upload(bias, n);
                DeviceBuffer c = poisoned(out, m, n);
                boolean fused = gemm.matmul(da, db, c, epilogue, dbias);
                String what = gemm.name() + " " + epilogue + " into " + out;
                // GELU into bf16 is refused on purpose (CublasLtGemm: too coarse); the rest must fuse at DiT-like shapes
                boolean mustFuse = mustFuseBias && (epilogue == Gemm.Epilogue.BIAS || out == DType.F32);
                if (epilogue != Gemm.Epilogue.BIAS && out == DType.BF16) {
                    assertThat(fused).as(what + " is refused").isFalse();
                }
                if (!fused) {
                    if (mustFuse) {
                        throw new AssertionError(what + ": cuBLASLt refused to fuse the epilogue at a DiT-like shape");
                    }
                    assertUntouched(c, what);
                    continue;
                }
                if (epilogue == Gemm.Epilogue.BIAS) {
                    check(c, want, absSum, out == DType.BF16, what);
                } else {
                    // GELU's slope is at most 1.13; cuBLASLt may evaluate tanh approximately (~2^-11 relative)
                    float[] tol = new float[absSum.length];
                    for (int i = 0; i < tol.length; i++) {
                        tol[i] = 1.2f * absSum[i] + 50f * Math.abs((float) product[i] + bias[i % n]);
                    }
                    check(c, want, tol, out == DType.BF16, what);
                }
            }
        }
    }

    /** The epilogue after the bias, in double: GELU(tanh) as the model (and cuBLASLt's documentation) define it. */
    static double epilogueOf(Gemm.Epilogue e, double x) {
        if (e == Gemm.Epilogue.BIAS) {
            return x;
        }
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    private static void assertUntouched(DeviceBuffer c, String what) {
        if (c.dtype() == DType.BF16) {
            for (short s : c.toShortArray()) {
                if (s != POISON16) {
                    throw new AssertionError(what + ": refused, yet C was written");
                }
            }
        } else {
            for (float f : c.toFloats()) {
                if (Float.floatToRawIntBits(f) != POISON32) {
                    throw new AssertionError(what + ": refused, yet C was written");
                }
            }
        }
    }

    private static float[] absSum(float[] a, float[] b, int m, int n, int k, float alpha) {
        float[] s = new float[m * n];
        float[] aa = new float[a.length];
        float[] bb = new float[b.length];
        for (int i = 0; i < a.length; i++) {
            aa[i] = Math.abs(a[i]);
        }
        for (int i = 0; i < b.length; i++) {
            bb[i] = Math.abs(b[i]);
        }
        float[] t = GemmBf16.apply(aa, bb, m, n, k, Math.abs(alpha));
        System.arraycopy(t, 0, s, 0, s.length);
        return s;
    }

    private static void check(DeviceBuffer c, float[] want, float[] absSum, boolean bf16, String what) {
        float[] got = c.toFloats();
        short[] bits = bf16 ? c.toShortArray() : null;
        for (int i = 0; i < want.length; i++) {
            boolean unwritten = bf16 ? bits[i] == POISON16 : Float.floatToRawIntBits(got[i]) == POISON32;
            if (unwritten) {
                throw new AssertionError(what + ": element " + i + " of " + c + " never written");
            }
            double tol = 1e-5 * absSum[i] + 1e-7 + (bf16 ? Math.abs(want[i]) / 256.0 : 0);
            double err = Math.abs((double) got[i] - want[i]);
            if (!(err <= tol)) {
                throw new AssertionError(String.format("%s: element %d (row %d, col %d) = %s, expected %s (tolerance %.3g)",
                        what, i, i / c.dim(1), i % c.dim(1), got[i], want[i], tol));
            }
        }
    }
}
