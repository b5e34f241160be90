package io.sparserender.engine.ops.reference;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The tiling of conv3d_igemm.cu (its index math, written out in {@link Conv3dImplicitGemm}) gives
 * CpuOps.conv3d's result for every block width, on shapes with partial tiles in M, N and the channel
 * blocks, T = kt and T > kt, each kernel shape the VAE uses, asymmetric padding and images smaller
 * than the kernel; every output element written exactly by the block that owns it.
 */
class Conv3dImplicitGemmTest {
    private final CpuOps cpu = new CpuOps();

    @ParameterizedTest(name = "C{0} T{1} H{2} W{3} O{4} k{5}x{6}x{7} pad {8}x{9}")
    @CsvSource({
        "35, 4, 9, 13, 37, 3, 3, 3, 1, 1",
        "48, 1, 7, 9, 48, 1, 1, 1, 0, 0",
        "33, 1, 17, 23, 70, 1, 3, 3, 1, 1",
        "20, 5, 6, 11, 300, 3, 1, 1, 0, 0",
        "3, 3, 2, 2, 5, 3, 3, 3, 1, 1",
        "1, 1, 1, 1, 1, 1, 1, 1, 0, 0",
        "5, 2, 6, 7, 9, 1, 3, 3, 0, 2",
        "64, 3, 10, 14, 12, 3, 3, 3, 1, 1",
        "8, 1, 3, 200, 20, 1, 1, 3, 0, 1",
    })
    void everyBlockWidthMatchesCpuOps(int c, int t, int h, int w, int o, int kt, int kh, int kw, int padH, int padW) {
        SplittableRandom r = new SplittableRandom(31L * c + 7L * o + t + h * 13L + w);
        Tensor x = random(r, c, t, h, w);
        Tensor wt = random(r, o, c, kt, kh, kw);
        Tensor bias = o % 2 == 1 ? random(r, o) : null;
        Tensor want = cpu.conv3d(x, wt, bias, padH, padW);
        float[] absSum = cpu.conv3d(abs(x), abs(wt), bias == null ? null : abs(bias), padH, padW).data();
        float[] packed = Conv3dImplicitGemm.packWeight(wt.data(), o, c, kt * kh * kw);
        assertThat(packed).hasSize(o * Conv3dImplicitGemm.channelBlocks(c) * 32 * kt * kh * kw);
        for (int bn : new int[] {256, 128, 64, 32}) {
            float[] got = Conv3dImplicitGemm.apply(x.data(), c, t, h, w, packed, o, kt, kh, kw, padH, padW,
                    bias == null ? null : bias.data(), bn);
            assertThat(got).hasSameSizeAs(want.data());
            for (int i = 0; i < got.length; i++) {
                double tol = 1e-5 * absSum[i] + 1e-6;
                if (!(Math.abs(got[i] - want.data()[i]) <= tol)) {
                    throw new AssertionError("bn " + bn + ": element " + i + " = " + got[i] + ", expected " + want.data()[i]);
                }
            }
        }
    }

    private static Tensor random(SplittableRandom r, int... shape) {
        Tensor t = Tensor.zeros(shape);
        float[] d = t.data();
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return t;
    }

    private static Tensor abs(Tensor t) {
        float[] d = t.data().clone();
        for (int i = 0; i < d.length; i++) {
            d[i] = Math.abs(d[i]);
        }
        return new Tensor(d, t.shape());
    }
}
