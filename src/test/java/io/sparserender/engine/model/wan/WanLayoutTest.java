package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.Checkpoint;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.engine.weights.TensorInfo;
import io.sparserender.testing.SharedFixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
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
        rewrite(diffusers, original, WanKeys::toOriginal, 2);
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
        rewrite(diffusers, prefixed, n -> WanKeys.SINGLE_FILE_PREFIX + WanKeys.toOriginal(n), 1);
        Files.copy(diffusers.resolve("config.json"), prefixed.resolve("config.json"));
        WanWeights<Tensor> w = WanModelDir.resolve(prefixed).experts().get(0).load(OPS);
        assertThat(w.layout()).isEqualTo(WanWeights.Layout.ORIGINAL);
        assertThat(w.prefixed()).isTrue();
        Tensor out = run(w, "wan-dit-ti2v/case-token-t.safetensors");
        Tensor ref = run(WanModelDir.resolve(diffusers).experts().get(0).load(OPS), "wan-dit-ti2v/case-token-t.safetensors");
        assertThat(out.data()).containsExactly(ref.data());
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

    /** Copies every tensor (same dtype, same values) under renamed keys, in {@code shards} files with an index when > 1. */
    static void rewrite(Path from, Path to, UnaryOperator<String> rename, int shards) throws IOException {
        Files.createDirectories(to);
        try (Checkpoint c = Checkpoint.open(from)) {
            List<Map.Entry<String, TensorInfo>> all = List.copyOf(c.tensors().entrySet());
            ObjectNode index = JSON.createObjectNode();
            ObjectNode map = index.putObject("weight_map");
            for (int s = 0; s < shards; s++) {
                SafetensorsWriter w = new SafetensorsWriter();
                String file = shards == 1 ? "diffusion_pytorch_model.safetensors"
                        : String.format("diffusion_pytorch_model-%05d-of-%05d.safetensors", s + 1, shards);
                for (int i = s; i < all.size(); i += shards) {
                    TensorInfo t = all.get(i).getValue();
                    byte[] raw = c.file(t.name()).rawBytes(t.name()).array();
                    String name = rename.apply(t.name());
                    w.addRaw(name, t.dtype(), t.shape(), raw);
                    map.put(name, file);
                }
                w.write(to.resolve(file));
            }
            if (shards > 1) {
                Files.writeString(to.resolve("diffusion_pytorch_model.safetensors.index.json"), JSON.writeValueAsString(index));
            }
        }
    }
}
