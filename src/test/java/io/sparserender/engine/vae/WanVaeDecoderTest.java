package io.sparserender.engine.vae;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WanVaeDecoderTest {
    private final CpuOps ops = new CpuOps();

    static Tensor random(long seed, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return new Tensor(a, shape);
    }

    @Test
    void cacheHoldsTheSameFramesForThreeAndNineLatentFrames(@TempDir Path dir) {
        for (WanVaeConfig cfg : List.of(WanVaeTiny.wan21(4, 1), WanVaeTiny.wan22(8, 1))) {
            Path folder = dir.resolve(cfg.isResidual() ? "v22" : "v21");
            WanVaeTiny.write(folder, cfg, 7, DType.F32);
            WanVaeDecoder<Tensor> decoder = WanVaeDecoder.load(ops, folder);
            List<Long> three = cachedElementsPerChunk(decoder, 3);
            List<Long> nine = cachedElementsPerChunk(decoder, 9);
            // from the second chunk on every conv's slot is full (the temporal upsample's starts then): constant after
            assertThat(three.get(2)).isEqualTo(three.get(1)).isPositive();
            assertThat(nine.subList(1, 9)).containsOnly(three.get(1));
            assertThat(nine.get(8)).isEqualTo(three.get(2));
            assertThat(three.get(0)).isLessThan(three.get(1));
        }
    }

    private List<Long> cachedElementsPerChunk(WanVaeDecoder<Tensor> decoder, int frames) {
        WanVaeConfig cfg = decoder.config();
        Tensor z = random(frames, cfg.zDim(), frames, 2, 3);
        List<Long> sizes = new ArrayList<>();
        int outFrames = 0;
        try (WanVaeDecoder<Tensor>.Session s = decoder.session()) {
            for (int i = 0; i < frames; i++) {
                Tensor out = s.next(ops.slice(z, 1, i, i + 1));
                outFrames += out.dim(1);
                assertThat(out.shape()).containsExactly(cfg.videoChannels(), i == 0 ? 1 : 4, 2 * cfg.spatialFactor(),
                        3 * cfg.spatialFactor());
                sizes.add(s.cache().cachedElements());
                assertThat(s.cache().cachedFrames()).isEqualTo(2 * s.cache().filledSlots());
            }
            assertThat(s.cache().filledSlots()).isEqualTo(s.cache().slots());
        }
        assertThat(outFrames).isEqualTo(1 + 4 * (frames - 1)).isEqualTo(cfg.outputFrames(frames));
        return sizes;
    }

    @Test
    void decodesABatchAsItsSamplesAndStaysInRange(@TempDir Path dir) {
        WanVaeConfig cfg = WanVaeTiny.wan22(8, 3);
        WanVaeTiny.write(dir, cfg, 3, DType.BF16);
        WanVaeDecoder<Tensor> decoder = WanVaeDecoder.load(ops, dir);
        Tensor z = random(5, 2, 8, 2, 2, 3);
        Tensor both = decoder.decode(z);
        assertThat(both.shape()).containsExactly(2, 3, 5, 32, 48);
        Tensor second = decoder.decode(ops.slice(z, 0, 1, 2));
        assertThat(ops.slice(both, 0, 1, 2).data()).containsExactly(second.data());
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        for (float v : both.data()) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        assertThat(min).isGreaterThanOrEqualTo(-1f).isLessThan(max);
        assertThat(max).isLessThanOrEqualTo(1f);
    }

    @Test
    void rejectsLatentsOfTheWrongShape(@TempDir Path dir) {
        WanVaeTiny.write(dir, WanVaeTiny.wan21(4, 1), 1, DType.F32);
        WanVaeDecoder<Tensor> decoder = WanVaeDecoder.load(ops, dir);
        assertThatThrownBy(() -> decoder.decode(Tensor.zeros(1, 16, 2, 2, 2)))
                .hasMessage("Cannot decode latents [1, 16, 2, 2, 2]: expected [B, 4, T, h, w]");
    }

    @Test
    void denormalizeAppliesStdThenMeanPerChannel() {
        WanVaeConfig cfg = WanVaeTiny.wan21(3, 9);
        Tensor z = random(2, 1, 3, 2, 1, 2);
        Tensor d = WanVaeLatents.denormalize(ops, z, cfg);
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < 4; i++) {
                double want = z.data()[c * 4 + i] * cfg.latentsStd().get(c) + cfg.latentsMean().get(c);
                assertThat((double) d.data()[c * 4 + i]).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-6));
            }
        }
        Tensor back = WanVaeLatents.normalize(ops, d, cfg);
        assertThat(WanVaeDecoderFixtureTest.relL2(back.data(), z.data())).isLessThan(1e-6);
    }
}
