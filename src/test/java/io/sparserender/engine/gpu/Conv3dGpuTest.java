package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.POISON16;
import static io.sparserender.testing.GpuTestDevice.POISON32;
import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.poisoned;
import static io.sparserender.testing.GpuTestDevice.random;
import static io.sparserender.testing.GpuTestDevice.roundBf16;
import static io.sparserender.testing.GpuTestDevice.uniform;

import io.sparserender.engine.gpu.CudaVaeKernels.ConvTile;
import io.sparserender.engine.gpu.CudaVaeKernels.PackedConvWeight;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.HalfFloats;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.testing.RequiresGpu;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * conv3d_igemm.cu (and conv3d_igemm_sm90.cu on compute 9.0) against its twin, CpuOps.conv3d on the same
 * bf16-rounded x and W: every tile the device runs (N256, N128, N64, N32, and SM90_N256 on Hopper, whose
 * 64-deep steps take odd step counts here too), float32 and bf16 activations, bf16 and float32 weights, with and without bias;
 * shapes with partial tiles in M (output positions), N (channels) and the 32-channel blocks, T = kt and
 * T > kt, the VAE's kernels (1x1x1, 1x3x3, 3x3x3, 3x1x1), asymmetric padding, images smaller than the
 * kernel, rows wider than a block tile. Outputs are poisoned first and every element checked written.
 * Tolerance: fp32 accumulation in another order, 3e-5 of Σ|x||w| (+ |bias|) per element, plus half a
 * bf16 ulp of the result when the output is bf16.
 */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class Conv3dGpuTest {
    private final CpuOps cpu = new CpuOps();

    @ParameterizedTest(name = "C{0} T{1} H{2} W{3} O{4} k{5}x{6}x{7} pad {8}x{9}")
    @CsvSource({
        "35, 4, 9, 13, 37, 3, 3, 3, 1, 1",
        "48, 1, 7, 9, 48, 1, 1, 1, 0, 0",
        "33, 1, 17, 23, 70, 1, 3, 3, 1, 1",
        "33, 2, 17, 23, 70, 1, 3, 3, 1, 1",
        "20, 5, 6, 11, 300, 3, 1, 1, 0, 0",
        "3, 3, 2, 2, 5, 3, 3, 3, 1, 1",
        "1, 1, 1, 1, 1, 1, 1, 1, 0, 0",
        "5, 2, 6, 7, 9, 1, 3, 3, 0, 2",
        "64, 3, 10, 14, 12, 3, 3, 3, 1, 1",
        "8, 1, 3, 200, 20, 1, 1, 3, 0, 1",
        "67, 5, 19, 37, 130, 3, 3, 3, 1, 1",
        "256, 3, 12, 20, 256, 3, 3, 3, 1, 1",
        "96, 6, 11, 17, 520, 3, 3, 3, 1, 1",
    })
    void everyTileMatchesCpuOps(int c, int t, int h, int w, int o, int kt, int kh, int kw, int padH, int padW) {
        SplittableRandom r = random("conv3d C" + c + " T" + t + " H" + h + " W" + w + " O" + o + " k" + kt + kh + kw);
        float[] x = uniform(r, c * t * h * w, -1, 1);
        float[] wt = uniform(r, o * c * kt * kh * kw, -1, 1);
        float[] bias = o % 2 == 1 ? uniform(r, o, -1, 1) : null;
        // the twin sees what the kernel multiplies: x and W rounded to bf16 (the kernel rounds float32 x as it gathers)
        Tensor xr = new Tensor(roundBf16(x), c, t, h, w);
        Tensor wr = new Tensor(roundBf16(wt), o, c, kt, kh, kw);
        Tensor br = bias == null ? null : new Tensor(bias, o);
        float[] want = cpu.conv3d(xr, wr, br, padH, padW).data();
        float[] absSum = cpu.conv3d(abs(xr), abs(wr), br == null ? null : abs(br), padH, padW).data();

        CudaKernels ops = ops();
        CudaVaeKernels vae = new CudaVaeKernels(ops.device());
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer dx32 = ops.upload(x, c, t, h, w);
            DeviceBuffer dx16 = ops.uploadBf16(x, c, t, h, w);
            DeviceBuffer dw16 = ops.uploadBf16(wt, o, c, kt, kh, kw);
            DeviceBuffer dw32 = ops.upload(wt, o, c, kt, kh, kw);
            DeviceBuffer db = bias == null ? null : ops.upload(bias, o);
            Conv3dGeometry g = Conv3dGeometry.of(dx32.shape(), dw16.shape(), padH, padW);

            PackedConvWeight packed = vae.packConvWeight(dw16);
            PackedConvWeight packed32 = vae.packConvWeight(dw32);
            checkPacked(packed, roundBf16(wt), g);
            checkPacked(packed32, roundBf16(wt), g);
            for (ConvTile tile : vae.tiles()) {
                DeviceBuffer out32 = poisoned(DType.F32, g.outShape());
                vae.conv3dInto(dx32, packed, db, padH, padW, tile, out32);
                check(out32, want, absSum, "f32 x, " + tile + ", " + g);
                DeviceBuffer out16 = poisoned(DType.BF16, g.outShape());
                vae.conv3dInto(dx16, packed, db, padH, padW, tile, out16);
                check(out16, want, absSum, "bf16 x, " + tile + ", " + g);
            }
            // the allocating forms: the weight packed on the fly (from float32 here) and the tile chosen for O
            check(vae.conv3d(dx16, dw32, db, padH, padW), want, absSum, "conv3d(bf16 x, f32 W), " + g);
            check(vae.conv3d(dx32, packed32, db, padH, padW), want, absSum, "conv3d(f32 x, packed), " + g);
        }
    }

    /** The packed weight holds W[o, 32 cb + j, tap] at (o, cb, tap, j) and zeros past C. */
    private static void checkPacked(PackedConvWeight p, float[] w, Conv3dGeometry g) {
        short[] bits = p.packed().toShortArray();
        int taps = g.taps();
        int cb = g.channelBlocks();
        for (int i = 0; i < bits.length; i++) {
            int j = i % 32;
            int tap = (i / 32) % taps;
            int b = (i / 32 / taps) % cb;
            int o = i / 32 / taps / cb;
            int ch = 32 * b + j;
            float want = ch < g.c() ? w[(o * g.c() + ch) * taps + tap] : 0f;
            float got = HalfFloats.bf16ToFloat(bits[i]);
            if (Float.compare(got, want) != 0) {
                throw new AssertionError("packed weight element " + i + " (o " + o + ", block " + b + ", tap " + tap + ", j " + j
                        + ") = " + got + ", expected " + want);
            }
        }
    }

    private static void check(DeviceBuffer out, float[] want, float[] absSum, String what) {
        boolean bf16 = out.dtype() == DType.BF16;
        float[] got = out.toFloats();
        short[] bits = bf16 ? out.toShortArray() : null;
        int bad = 0;
        int first = -1;
        for (int i = 0; i < want.length; i++) {
            boolean unwritten = bf16 ? bits[i] == POISON16 : Float.floatToRawIntBits(got[i]) == POISON32;
            if (unwritten) {
                throw new AssertionError(what + ": element " + i + " of " + out + " never written");
            }
            double tol = 3e-5 * absSum[i] + 1e-6 + (bf16 ? Math.abs(want[i]) / 256.0 : 0);
            if (!(Math.abs((double) got[i] - want[i]) <= tol)) {
                bad++;
                first = first < 0 ? i : first;
            }
        }
        if (bad > 0) {
            int[] s = out.shape();
            int plane = s[1] * s[2] * s[3];
            int m = first % plane;
            throw new AssertionError(String.format("%s: %d of %d elements wrong; first at %d (channel %d, t %d, h %d, w %d) = %s,"
                    + " expected %s (Σ|x||w| %s)", what, bad, want.length, first, first / plane, m / (s[2] * s[3]),
                    (m / s[3]) % s[2], m % s[3], got[first], want[first], absSum[first]));
        }
    }

    private static Tensor abs(Tensor t) {
        float[] d = t.data().clone();
        for (int i = 0; i < d.length; i++) {
            d[i] = Math.abs(d[i]);
        }
        return new Tensor(d, t.shape());
    }
}
