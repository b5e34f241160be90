package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.poisoned;
import static io.sparserender.testing.GpuTestDevice.random;
import static io.sparserender.testing.GpuTestDevice.POISON16;
import static io.sparserender.testing.GpuTestDevice.POISON32;
import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.ops.reference.Convert;
import io.sparserender.engine.tensor.DType;
import io.sparserender.testing.RequiresGpu;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** convert.cu against its Java twin: bit-exact both ways, specials and subnormals included. */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class ConvertGpuTest {
    @ParameterizedTest
    @ValueSource(ints = {1, 13, 70_001})
    void bothDirectionsAreBitExact(int n) {
        SplittableRandom r = random("convert n=" + n);
        float[] x = new float[n];
        float[] specials = {0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.MIN_VALUE,
            -Float.MIN_NORMAL, Float.MAX_VALUE, 1.00390625f /* tie: 1 + 2^-8 */, 1.01171875f /* tie, rounds up */};
        for (int i = 0; i < n; i++) {
            x[i] = i < specials.length ? specials[i] : Float.intBitsToFloat(r.nextInt());
            if (Float.isNaN(x[i])) {
                x[i] = Float.NaN; // the canonical NaN: other payloads may be quieted differently
            }
        }
        CudaKernels ops = ops();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer in = ops.upload(x, n);
            DeviceBuffer bf = poisoned(DType.BF16, n);
            ops.convert(in, bf);
            short[] got = bf.toShortArray();
            short[] want = Convert.f32ToBf16(x);
            for (int i = 0; i < n; i++) {
                if (Float.isNaN(x[i])) {
                    assertThat(Float.isNaN(Convert.bf16ToF32(new short[] {got[i]})[0])).as("NaN at %d", i).isTrue();
                } else {
                    assertThat(got[i]).as("f32 -> bf16 at %d (%s)", i, x[i]).isNotEqualTo(POISON16).isEqualTo(want[i]);
                }
            }
            DeviceBuffer back = poisoned(DType.F32, n);
            ops.convert(bf, back);
            float[] f = back.toFloatArray();
            float[] wantF = Convert.bf16ToF32(got);
            for (int i = 0; i < n; i++) {
                assertThat(Float.floatToRawIntBits(f[i])).as("bf16 -> f32 at %d", i)
                        .isNotEqualTo(POISON32).isEqualTo(Float.floatToRawIntBits(wantF[i]));
            }
        }
    }
}
