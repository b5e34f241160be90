package io.sparserender.engine.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.model.wan.SelfAttention;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.video.Mp4Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole prompt-to-MP4 path with the generated tiny model on the CPU. */
class WanClipRendererTest {
    @TempDir
    Path dir;

    @Test
    void rendersAPlayableDeterministicClip() throws Exception {
        ModelRepo repo = ModelRepo.resolve("wan-tiny", dir.resolve("cache"));
        assertThat(repo.revision()).startsWith("generated-seed-");
        assertThat(ModelRepo.resolve("wan-tiny", dir.resolve("cache")).root()).isEqualTo(repo.root());
        ClipSpec spec = new ClipSpec("a red fox running in the snow", "blurry, low quality", 7, 64, 32, 5, 3, 5.0,
                Double.NaN, 5.0, "dense", "wan-tiny", repo.revision());
        try (WanClipRenderer<Tensor> r = new WanClipRenderer<>(new CpuOps(), repo, p -> SelfAttention.dense(), "cpu")) {
            Path a = Files.createDirectories(dir.resolve("a"));
            Path b = Files.createDirectories(dir.resolve("b"));
            java.util.List<String> progress = new java.util.ArrayList<>();
            RenderResult first = r.render(spec, a, (id, stage, done, total) -> progress.add(stage + done + "/" + total));
            RenderResult second = r.render(spec, b, RenderListener.NONE);

            Mp4Reader.Video v = Mp4Reader.read(first.video());
            assertThat(v.codec()).isEqualTo("h264");
            assertThat(v.width()).isEqualTo(64);
            assertThat(v.height()).isEqualTo(32);
            assertThat(v.frames()).hasSize(5);
            assertThat(Mp4Reader.read(second.video()).frames()).usingRecursiveComparison().isEqualTo(v.frames());
            assertThat(progress).contains("dit1/3", "dit3/3");
            assertThat(first.attention()).hasSize(3 * 2); // 3 steps × 2 layers, dense: nothing skipped
            assertThat(first.tileSparsity()).isZero();
            assertThat(first.stageSeconds()).containsKeys("text", "dit", "vae_encode", "total");
        }
    }

    @Test
    void twoExpertModelSwitchesToTheLowNoiseExpertAtTheBoundary() throws Exception {
        ModelRepo tiny = ModelRepo.resolve("wan-tiny", dir.resolve("cache"));
        ModelRepo two = io.sparserender.testing.TwoExpertTiny.write(tiny, dir.resolve("two"), 99);
        ModelRepo same = io.sparserender.testing.TwoExpertTiny.write(tiny, dir.resolve("same"), tiny.preset().generator().seed());
        // 4 steps at shift 5: timesteps 1000, 937 (high-noise expert), 833, 625 (low-noise expert, boundary 875)
        ClipSpec spec = new ClipSpec("a red fox running in the snow", "blurry", 7, 64, 32, 5, 4, 5.0, 5.0, 5.0,
                "dense", two.preset().name(), two.revision());
        Mp4Reader.Video withSecond;
        Mp4Reader.Video withCopy;
        try (WanClipRenderer<Tensor> r = new WanClipRenderer<>(new CpuOps(), two, p -> SelfAttention.dense(), "cpu")) {
            withSecond = Mp4Reader.read(r.render(spec, Files.createDirectories(dir.resolve("a")), RenderListener.NONE).video());
        }
        try (WanClipRenderer<Tensor> r = new WanClipRenderer<>(new CpuOps(), same, p -> SelfAttention.dense(), "cpu")) {
            withCopy = Mp4Reader.read(r.render(spec, Files.createDirectories(dir.resolve("b")), RenderListener.NONE).video());
        }
        ClipSpec oneExpert = new ClipSpec(spec.prompt(), spec.negativePrompt(), 7, 64, 32, 5, 4, 5.0, Double.NaN, 5.0, "dense",
                "wan-tiny", tiny.revision());
        Mp4Reader.Video single;
        try (WanClipRenderer<Tensor> r = new WanClipRenderer<>(new CpuOps(), tiny, p -> SelfAttention.dense(), "cpu")) {
            single = Mp4Reader.read(r.render(oneExpert, Files.createDirectories(dir.resolve("c")), RenderListener.NONE).video());
        }
        assertThat(withCopy.frames()).as("a second expert equal to the first renders the one-expert clip")
                .usingRecursiveComparison().isEqualTo(single.frames());
        assertThat(withSecond.frames()).as("the low-noise expert's own weights change the clip")
                .usingRecursiveComparison().isNotEqualTo(single.frames());
    }

    @Test
    void sparsePolicyRecordsSparsityAndSampledRecallPerLayerAndStep() {
        ModelRepo repo = ModelRepo.resolve("wan-tiny", dir.resolve("cache"));
        // Random tiny weights attend almost uniformly, so an in-loop recall rule rightly skips nothing;
        // top-k keeps 2 of the 6 kv-tiles of every q-tile whatever the scores.
        String policy = "topk:k=2,br=16,bc=16";
        ClipSpec spec = new ClipSpec("a lighthouse in a storm", "", 3, 128, 64, 9, 5, 5.0, Double.NaN, 5.0, policy,
                "wan-tiny", repo.revision());
        try (WanClipRenderer<Tensor> r = new WanClipRenderer<>(new CpuOps(), repo, PolicySelfAttention::forSpec, "cpu")) {
            RenderResult result = r.render(spec, dir, RenderListener.NONE);
            assertThat(result.attention()).hasSize(5 * 2);
            assertThat(result.tileSparsity()).isCloseTo(4.0 / 6.0, org.assertj.core.data.Offset.offset(1e-9));
            for (LayerStepStats s : result.attention()) {
                if (s.step() % PolicySelfAttention.DEFAULT_EXACT_EVERY == 0) {
                    assertThat(s.recallMean()).as("sampled step %d layer %d", s.step(), s.layer()).isBetween(0.2, 1.0);
                    assertThat(s.recallP05()).isLessThanOrEqualTo(s.recallMean());
                    assertThat(s.relL2()).isPositive();
                } else {
                    assertThat(s.recallMean()).isNaN();
                }
            }
        }
    }

    private ClipSpec spec(ModelRepo repo, String prompt, int width, int height, int frames, String policy) {
        return new ClipSpec(prompt, "", 5, width, height, frames, 3, 5.0, Double.NaN, 5.0, policy, "wan-tiny", repo.revision());
    }

    /** Dense attention, except that layer 1 at step 2 returns NaN in one element of the unconditional half. */
    private static SelfAttention<Tensor> poisonedAt(int layer, int step) {
        SelfAttention<Tensor> dense = SelfAttention.dense();
        return (ops, q, k, v, site) -> {
            Tensor out = dense.attend(ops, q, k, v, site);
            if (site.layer() == layer && site.step() == step) {
                float[] d = out.data().clone();
                d[d.length - 1] = Float.NaN;
                return new Tensor(d, out.shape());
            }
            return out;
        };
    }

    @Test
    void nanInOneLayerStopsThatClipNamingStepAndLayerAndTheNextClipRenders() throws Exception {
        ModelRepo repo = ModelRepo.resolve("wan-tiny", dir.resolve("cache"));
        try (WanClipRenderer<Tensor> r = new WanClipRenderer<>(new CpuOps(), repo,
                p -> p.equals("dense") ? SelfAttention.dense() : poisonedAt(1, 2), "cpu")) {
            ClipSpec bad = spec(repo, "a poisoned clip", 64, 32, 5, "topk:k=2");
            assertThatThrownBy(() -> r.render(bad, Files.createDirectories(dir.resolve("bad")), RenderListener.NONE))
                    .isInstanceOf(ClipFailedException.class)
                    .hasMessageStartingWith("Cannot render clip " + bad.clipId() + ": NaN/Inf in latents at step 2 of 3 (0-based, timestep ")
                    .hasMessageEndingWith("first in layer 1 (self-attention)");
            RenderResult good = r.render(spec(repo, "a healthy clip", 64, 32, 5, "dense"),
                    Files.createDirectories(dir.resolve("good")), RenderListener.NONE);
            assertThat(Mp4Reader.read(good.video()).frames()).hasSize(5);
        }
    }

    @Test
    void aClipTooLargeForMemoryFailsAloneWithItsSizesNamed() throws Exception {
        ModelRepo repo = ModelRepo.resolve("wan-tiny", dir.resolve("cache"));
        ClipSpec small = spec(repo, "small", 64, 32, 5, "dense");
        ClipSpec larger = spec(repo, "larger", 128, 96, 9, "dense");
        var vae = io.sparserender.engine.vae.WanVaeConfig.read(repo.root().resolve("vae/config.json"));
        long budget = ClipFootprint.of(repo.preset().transformer(), vae, small).peakBytes();
        assertThat(ClipFootprint.of(repo.preset().transformer(), vae, larger).peakBytes()).isGreaterThan(budget);
        try (WanClipRenderer<Tensor> r = new WanClipRenderer<>(new CpuOps(), repo, p -> SelfAttention.dense(), "cpu", budget)) {
            assertThatThrownBy(() -> r.render(larger, dir, RenderListener.NONE))
                    .isInstanceOf(ClipFailedException.class)
                    .hasMessageStartingWith("Cannot render clip " + larger.clipId() + " at 128x96, 9 frames: it needs about ")
                    .hasMessageContaining("of working memory (largest tensor ")
                    .hasMessageEndingWith("over the " + ClipFootprint.mib(budget) + " memory budget");
            assertThat(Mp4Reader.read(r.render(small, Files.createDirectories(dir.resolve("s")), RenderListener.NONE).video())
                    .frames()).hasSize(5);
        }
        // With the whole heap as budget, a clip at the validator's limits still cannot be held by the CPU backend.
        try (WanClipRenderer<Tensor> r = new WanClipRenderer<>(new CpuOps(), repo, p -> SelfAttention.dense(), "cpu")) {
            ClipSpec huge = spec(repo, "huge", 4096, 4096, 1001, "dense");
            assertThatThrownBy(() -> r.render(huge, dir, RenderListener.NONE))
                    .isInstanceOf(ClipFailedException.class)
                    .hasMessage("Cannot render clip " + huge.clipId() + " at 4096x4096, 1001 frames: its DiT feed-forward "
                            + "[2,16449536,512] holds 16844324864 elements, over the 2147483639 one CPU tensor (a Java array) can hold");
        }
    }
}
