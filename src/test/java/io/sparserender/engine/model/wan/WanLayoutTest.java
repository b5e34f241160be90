package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.Checkpoint;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.testing.CheckpointRewrite;
import io.sparserender.testing.SharedFixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fixture checkpoints rewritten in the original Wan layout (and with the single-file prefix) load to the same model. */
class WanLayoutTest {
    static final CpuOps OPS = new CpuOps();
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void originalLayoutInTwoShardsGivesTheSameOutputAsDiffusersLayout() throws IOException {
        Path diffusers = SharedFixtures.path("wan-dit-h128/transformer");
        WanConfig cfg = WanConfig.read(diffusers.resolve("config.json"));
        Path original = tmp.resolve("original");
        CheckpointRewrite.rewrite(diffusers, original, WanKeys::toOriginal, 2);
        Files.writeString(original.resolve("config.json"), JSON.writeValueAsString(cfg.toOriginalJson("t2v")));
        try (Checkpoint c = Checkpoint.open(original)) {
            assertThat(c.tensors()).containsKeys("blocks.1.norm3.weight", "blocks.0.self_attn.o.weight", "head.modulation",
                    "time_projection.1.weight", "blocks.1.ffn.2.bias").doesNotContainKey("blocks.1.norm2.weight");
        }

        WanModelDir dir = WanModelDir.resolve(original);
        assertThat(dir.experts().get(0).config()).isEqualTo(cfg);
        WanWeights<Tensor> w = dir.experts().get(0).load(OPS);
        assertThat(w.layout()).isEqualTo(WanWeights.Layout.ORIGINAL);
        assertThat(w.prefixed()).isFalse();

        Tensor fromOriginal = run(w, "wan-dit-h128/case-scalar-t.safetensors");
        Tensor fromDiffusers = run(WanModelDir.resolve(diffusers).experts().get(0).load(OPS), "wan-dit-h128/case-scalar-t.safetensors");
        assertThat(fromOriginal.data()).containsExactly(fromDiffusers.data());
    }

    @Test
    void singleFilePrefixIsStrippedInEitherLayout() throws IOException {
        Path diffusers = SharedFixtures.path("wan-dit-ti2v/transformer");
        Path prefixed = tmp.resolve("prefixed");
        CheckpointRewrite.rewrite(diffusers, prefixed, n -> WanKeys.SINGLE_FILE_PREFIX + WanKeys.toOriginal(n), 1);
        Files.copy(diffusers.resolve("config.json"), prefixed.resolve("config.json"));
        WanWeights<Tensor> w = WanModelDir.resolve(prefixed).experts().get(0).load(OPS);
        assertThat(w.layout()).isEqualTo(WanWeights.Layout.ORIGINAL);
        assertThat(w.prefixed()).isTrue();
        Tensor out = run(w, "wan-dit-ti2v/case-token-t.safetensors");
        Tensor ref = run(WanModelDir.resolve(diffusers).experts().get(0).load(OPS), "wan-dit-ti2v/case-token-t.safetensors");
        assertThat(out.data()).containsExactly(ref.data());
    }

    @Test
    void aSingleFileWithoutConfigGetsItsConfigFromTheShapes() throws IOException {
        for (String model : new String[] {"wan-dit-h128", "wan-dit-ti2v"}) {
            Path src = SharedFixtures.path(model + "/transformer");
            Path single = tmp.resolve(model);
            CheckpointRewrite.rewrite(src, single, n -> WanKeys.SINGLE_FILE_PREFIX + WanKeys.toOriginal(n), 1);
            WanModelDir dir = WanModelDir.resolve(single.resolve("diffusion_pytorch_model.safetensors"));
            assertThat(dir.experts().get(0).inferred()).isTrue();
            assertThat(dir.experts().get(0).config()).isEqualTo(WanConfig.read(src.resolve("config.json")));
            assertThat(dir.experts().get(0).load(OPS).prefixed()).isTrue();
        }
    }

    @Test
    void diffusersRepoRootFindsTheTransformerSubfolder() throws IOException {
        Path repo = tmp.resolve("repo");
        Files.createDirectories(repo.resolve("transformer"));
        Path src = SharedFixtures.path("wan-dit-ti2v/transformer");
        for (String f : List.of("config.json", "diffusion_pytorch_model.safetensors")) {
            Files.copy(src.resolve(f), repo.resolve("transformer").resolve(f));
        }
        Files.writeString(repo.resolve("model_index.json"), "{\"_class_name\": \"WanPipeline\"}");
        WanModelDir dir = WanModelDir.resolve(repo);
        assertThat(dir.experts()).extracting(WanModelDir.Expert::name).containsExactly("transformer");
        assertThat(dir.expert("transformer").folder()).isEqualTo(repo.resolve("transformer"));
    }

    static Tensor run(WanWeights<Tensor> w, String fixture) {
        WanTransformer<Tensor> dit = new WanTransformer<>(OPS, w, SelfAttention.dense());
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path(fixture))) {
            return dit.forward(f.readTensor("hidden_states"), Timesteps.of(f.readTensor("timestep")),
                    dit.encodePrompt(f.readTensor("encoder_hidden_states"), false));
        }
    }
}
