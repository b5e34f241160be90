package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.assertWrittenAndClose;
import static io.sparserender.testing.GpuTestDevice.ops;
import static io.sparserender.testing.GpuTestDevice.poisoned;
import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.Fp8Attention;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.tensor.DType;
import io.sparserender.testing.RequiresGpu;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The 8-bit attention ({@link CudaFp8Attention}: {@code attention_fp8_quantize.cu}, {@code flash_attention_sm90_ws_fp8.cu})
 * against its Java twin ({@link Fp8Attention}) on fresh random and video-like inputs of awkward sizes (one key, partial
 * 128-key blocks and 32-key chunks, odd lengths, several heads and batch rows):
 * <ul>
 *   <li>the quantized operands bit for bit: Q and K INT8 codes and scales, V's scales, and the Vᵀ codes, which must be
 *       V's codes transposed with each 32-key chunk in the kernel's slot order, zeros past L;</li>
 *   <li>the output, every element written (poisoned first), bf16 and float32: they differ from the twin only where
 *       the device's exp2 approximation, its fp32 summation orders and Hopper's FP8 accumulation (≈ 14 bits kept between
 *       the tensor core's additions) differ; a P whose approximation lands on the other side of an E4M3 rounding
 *       boundary (≈ 4·10⁻⁶ of them) moves one term by 1/16, so the bound is 2·10⁻³ of the output's norm overall and
 *       7 % of the channel's largest |v| per element;</li>
 *   <li>the log-sum-exp within 10⁻³;</li>
 *   <li>through {@link CudaAttention} with the ws-fp8 family: dense runs this kernel (same bits), keeps every tile and
 *       counts them as the bf16 kernels do; another policy runs the bf16 ws kernels (same bits as ws).</li>
 * </ul>
 */
@RequiresGpu
@SuppressWarnings("try")
class Fp8AttentionGpuTest {
    private static final int D = 128;

    @ParameterizedTest(name = "{0} B={1} L={2} H={3}")
    @CsvSource({
        "random, 1, 1, 1",
        "random, 2, 31, 3",
        "video, 1, 129, 2",
        "random, 1, 200, 2",
        "video, 2, 517, 2",
        "random, 1, 1000, 1",
    })
    void matchesItsTwin(String kind, int batch, int seqLen, int heads) {
        CudaKernels ops = ops();
        Assumptions.assumeTrue(CudaFp8Attention.runsOn(ops.device()), "the 8-bit kernel needs compute 9.0 with TMA");
        QkvInput in = AttentionPlanGpuTest.input(kind, batch, new VideoGrid(1, 1, seqLen), heads, D,
                "fp8 attention " + kind + " " + batch + "x" + seqLen + "x" + heads);
        Fp8Attention.Operands want = Fp8Attention.quantize(in);
        float scale = (float) (1 / Math.sqrt(D));
        Fp8Attention.Result ref = Fp8Attention.forward(want, scale);
        int[] shape = in.q().shape();
        CudaFp8Attention attention = new CudaFp8Attention(ops.device());
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer dq = ops.uploadBf16(in.q().data(), shape);
            DeviceBuffer dk = ops.uploadBf16(in.k().data(), shape);
            DeviceBuffer dv = ops.uploadBf16(in.v().data(), shape);
            CudaFp8Attention.Operands got = attention.quantize(dq, dk, dv);
            assertThat(got.q().toByteArray()).as("Q codes").isEqualTo(want.q().codes());
            assertThat(got.qScales().toFloatArray()).as("Q scales").isEqualTo(want.q().scales());
            assertThat(got.k().toByteArray()).as("K codes").isEqualTo(want.k().codes());
            assertThat(got.kScales().toFloatArray()).as("K scales").isEqualTo(want.k().scales());
            assertThat(got.vScales().toFloatArray()).as("V scales").isEqualTo(want.v().scales());
            assertThat(got.vt().toByteArray()).as("Vᵀ codes").isEqualTo(permutedVt(want, got.vtStride()));

            float[] max = channelMax(in.v().data(), batch, seqLen, heads);
            for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
                DeviceBuffer out = poisoned(dtype, shape);
                DeviceBuffer lse = dtype == DType.F32 ? poisoned(DType.F32, batch, heads, seqLen) : null;
                DeviceBuffer stats = ops.allocate(DType.I32, 8);
                ops.fill(stats, 0);
                attention.launch(got, out, lse, stats, scale, 64);
                float[] expected = dtype == DType.BF16 ? io.sparserender.testing.GpuTestDevice.roundBf16(ref.out()) : ref.out();
                // written, and per element within 7 % of its channel's largest |v| (one P rounded the other way)
                float[] o = out.toFloats();
                float[] diff = new float[o.length];
                for (int i = 0; i < o.length; i++) {
                    diff[i] = (o[i] - expected[i]) / Math.max(max[channel(i, seqLen, heads)], 1e-30f);
                }
                assertWrittenAndClose(out, expected, Float.MAX_VALUE, 0, kind + " " + dtype + ": written");
                io.sparserender.testing.GpuTestDevice.assertClose(diff, new float[o.length], 0.07, 0,
                        kind + " " + dtype + ": error / channel max |v|");
                assertThat(relL2(o, ref.out())).as(kind + " " + dtype + ": rel. L2 against the twin")
                        .isLessThan(dtype == DType.BF16 ? 5e-3 : 2e-3);
                if (lse != null) {
                    assertWrittenAndClose(lse, ref.lse(), 1e-3, 0, kind + ": lse");
                }
                long blocks = (seqLen + 63) / 64;
                assertThat(CudaAttention.Stats.fromWords(stats.toIntArray()).tilesTotal())
                        .as("tiles of 64 keys per 64-row q-tile").isEqualTo(batch * heads * blocks * blocks);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"dense:br=64,bc=64", "dense:br=64,bc=32", "dynsparse:lambda=-9,br=64,bc=64"})
    void theFamilyRunsDenseOn8BitsAndTheRestAsWs(String spec) {
        CudaKernels ops = ops();
        Assumptions.assumeTrue(CudaFp8Attention.runsOn(ops.device()), "the 8-bit kernel needs compute 9.0 with TMA");
        int batch = 1, seqLen = 300, heads = 2;
        QkvInput in = AttentionPlanGpuTest.input("video", batch, new VideoGrid(1, 1, seqLen), heads, D, "fp8 family " + spec);
        AttentionPolicy policy = PolicySpec.parse(spec);
        int[] shape = in.q().shape();
        CudaAttention fp8 = new CudaAttention(ops.device(), AttentionKernel.WS_FP8);
        assertThat(fp8.writesBf16(policy, D)).isTrue();
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer dq = ops.uploadBf16(in.q().data(), shape);
            DeviceBuffer dk = ops.uploadBf16(in.k().data(), shape);
            DeviceBuffer dv = ops.uploadBf16(in.v().data(), shape);
            int nq = (seqLen + 63) / 64, nk = (seqLen + policy.tiling().bc() - 1) / policy.tiling().bc();
            DeviceBuffer keep = poisoned(DType.I32, batch, heads, nq, nk);
            DeviceBuffer out = poisoned(DType.BF16, shape);
            CudaAttention.Stats stats = fp8.forward(policy, AttentionOptions.NONE, dq, dk, dv, out, null, keep, fp8.newStatsBuffer());
            DeviceBuffer want = poisoned(DType.BF16, shape);
            if (policy instanceof AttentionPolicy.Dense) {
                DeviceBuffer s = ops.allocate(DType.I32, 8);
                ops.fill(s, 0);
                new CudaFp8Attention(ops.device()).forward(dq, dk, dv, want, null, s, (float) (1 / Math.sqrt(D)), 64);
                assertThat(keep.toIntArray()).as("dense keeps every tile").containsOnly(1);
                assertThat(stats.tilesTotal()).isEqualTo((long) batch * heads * nq * nk);
                assertThat(stats.tileSparsity()).isZero();
            } else {
                new CudaAttention(ops.device(), AttentionKernel.WS).forward(policy, AttentionOptions.NONE, dq, dk, dv, want, null,
                        null, fp8.newStatsBuffer());
            }
            assertThat(out.toShortArray()).as(spec + " on ws-fp8").isEqualTo(want.toShortArray());
        }
    }

    @ParameterizedTest(name = "{0} L={1} {2}")
    @CsvSource(delimiter = '|', value = {
        "random | 200  | topk:k=2,br=128,bc=64",
        "video  | 517  | topk:k=3,br=128,bc=64",
        "video  | 1000 | topp:p=0.9,br=128,bc=64",
        "random | 129  | topk:k=1,br=128,bc=64",
    })
    void theListedKernelMatchesItsTwin(String kind, int seqLen, String spec) {
        CudaKernels ops = ops();
        Assumptions.assumeTrue(CudaFp8Attention.runsOn(ops.device()), "the 8-bit kernel needs compute 9.0 with TMA");
        int batch = 2, heads = 2;
        QkvInput in = AttentionPlanGpuTest.input(kind, batch, new VideoGrid(1, 1, seqLen), heads, D, "fp8 listed " + kind + " " + spec);
        AttentionPolicy policy = PolicySpec.parse(spec);
        int[] shape = in.q().shape();
        CudaAttention attention = new CudaAttention(ops.device(), AttentionKernel.WS_FP8);
        assertThat(attention.kernelFor(policy, D)).isEqualTo(AttentionKernel.WS_FP8);
        int nq = (seqLen + 127) / 128, nk = (seqLen + 63) / 64;
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            DeviceBuffer dq = ops.uploadBf16(in.q().data(), shape);
            DeviceBuffer dk = ops.uploadBf16(in.k().data(), shape);
            DeviceBuffer dv = ops.uploadBf16(in.v().data(), shape);
            AttentionPlanner.DevicePlan plan = attention.planner().plan(policy, AttentionOptions.NONE, dq, dk, false);
            int[] list = plan.list().toIntArray();
            int[] count = plan.count().toIntArray();
            DeviceBuffer out = poisoned(DType.F32, shape);
            DeviceBuffer keep = poisoned(DType.I32, batch, heads, nq, nk);
            DeviceBuffer stats = attention.newStatsBuffer();
            ops.fill(stats, 0);
            attention.launchPlanned(policy, plan, dq, dk, dv, out, null, keep, stats);
            Fp8Attention.Result ref = Fp8Attention.forwardListed(Fp8Attention.quantize(in), (float) (1 / Math.sqrt(D)), list, count,
                    plan.listBhStride());
            float[] o = out.toFloats();
            float[] max = channelMax(in.v().data(), batch, seqLen, heads);
            float[] diff = new float[o.length];
            for (int i = 0; i < o.length; i++) {
                diff[i] = (o[i] - ref.out()[i]) / Math.max(max[channel(i, seqLen, heads)], 1e-30f);
            }
            assertWrittenAndClose(out, ref.out(), Float.MAX_VALUE, 0, spec + ": written");
            io.sparserender.testing.GpuTestDevice.assertClose(diff, new float[o.length], 0.07, 0, spec + ": error / channel max |v|");
            assertThat(relL2(o, ref.out())).as(spec + ": rel. L2 against the twin").isLessThan(2e-3);
            // keep flags: 1 on the list, 2 off it; counters: every tile, and those off the list
            int[] flags = keep.toIntArray();
            long off = 0;
            for (int bh = 0; bh < batch * heads; bh++) {
                for (int qt = 0; qt < nq; qt++) {
                    boolean[] listed = new boolean[nk];
                    int n = count[bh * nq + qt];
                    for (int e = 0; e < n; e++) {
                        listed[list[(int) (bh * plan.listBhStride() + (long) qt * nk + e)]] = true;
                    }
                    off += nk - n;
                    for (int j = 0; j < nk; j++) {
                        assertThat(flags[(bh * nq + qt) * nk + j]).as("keep (bh %d, q-tile %d, kv-tile %d)", bh, qt, j)
                                .isEqualTo(listed[j] ? 1 : 2);
                    }
                }
            }
            CudaAttention.Stats st = attention.readStats(stats);
            assertThat(st.tilesTotal()).isEqualTo((long) batch * heads * nq * nk);
            assertThat(st.tilesSkippedBeforeQk()).isEqualTo(off);
        }
    }

    /** The Vᵀ codes the kernel reads: [B, H, D, vtStride], key 32c + k of a chunk at slot slotOf(k), zeros past L. */
    private static byte[] permutedVt(Fp8Attention.Operands in, int vtStride) {
        int bsz = in.batch(), seqLen = in.seqLen(), heads = in.heads();
        byte[] vt = new byte[bsz * heads * D * vtStride];
        for (int b = 0; b < bsz; b++) {
            for (int h = 0; h < heads; h++) {
                for (int j = 0; j < seqLen; j++) {
                    int pos = (j & ~31) | slotOf(j & 31);
                    for (int d = 0; d < D; d++) {
                        vt[((b * heads + h) * D + d) * vtStride + pos] = in.v().codes()[((b * seqLen + j) * heads + h) * D + d];
                    }
                }
            }
        }
        return vt;
    }

    /**
     * The slot of key k in a 32-key chunk, from the two fragment layouts (not from the kernel's formula): the QKᵀ
     * accumulator gives lane t of a quad columns 8g + 2t + e (g = 0..3, e = 0, 1) of a 32-column step; the PV product's
     * 8-bit A operand takes, in byte order, k = 4t + i (i = 0..3) then 16 + 4t + i, from the registers packed as
     * (g0 e0, g0 e1, g1 e0, g1 e1) and (g2 e0, g2 e1, g3 e0, g3 e1).
     */
    private static int slotOf(int key) {
        int g = key / 8, t = (key % 8) / 2, e = key % 2;
        int i = (g % 2) * 2 + e;
        return (g / 2) * 16 + 4 * t + i;
    }

    private static int channel(int i, int seqLen, int heads) {
        int d = i % D;
        int h = (i / D) % heads;
        int b = i / (D * heads * seqLen);
        return (b * heads + h) * D + d;
    }

    private static float[] channelMax(float[] v, int batch, int seqLen, int heads) {
        float[] max = new float[batch * heads * D];
        for (int i = 0; i < v.length; i++) {
            int c = channel(i, seqLen, heads);
            max[c] = Math.max(max[c], Math.abs(v[i]));
        }
        return max;
    }

    private static double relL2(float[] a, float[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
            den += (double) b[i] * b[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }
}
