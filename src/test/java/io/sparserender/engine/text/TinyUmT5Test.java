package io.sparserender.engine.text;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TinyUmT5Test {
    @TempDir
    Path dir;

    @Test
    void generatedRepoRunsEndToEnd() {
        TinyUmT5.defaults(7L).write(dir);
        try (PromptTokenizer tok = PromptTokenizer.open(dir.resolve("tokenizer"));
                UmT5Encoder<Tensor> enc = UmT5Encoder.open(dir.resolve("text_encoder"), new CpuOps())) {
            TokenBatch b = tok.encode(List.of("A red car on the street, cinematic", "a dog"), 24);
            // "▁" "A" (no "▁A" piece) "▁red" "▁car" "▁on" "▁the" "▁street" "," "▁cinematic" "</s>"
            assertThat(b.lengths()).containsExactly(10, 3);
            List<Tensor> out = enc.encode(b);
            assertThat(out.get(0).shape()).containsExactly(10, 32);
            assertThat(out.get(1).shape()).containsExactly(3, 32);
            for (float v : out.get(0).data()) {
                assertThat(Float.isFinite(v)).isTrue();
            }
            // the final RMS norm with weights near 1 keeps rows near unit RMS
            double ss = 0;
            for (int i = 0; i < 32; i++) {
                ss += out.get(0).data()[i] * out.get(0).data()[i];
            }
            assertThat(Math.sqrt(ss / 32)).isBetween(0.5, 1.5);
        }
    }

    @Test
    void promptEncoderEqualsTokenizerPlusEncoderAndReadsShardedWeights() throws Exception {
        TinyUmT5.defaults(3L).write(dir);
        List<Tensor> direct;
        try (PromptEncoder<Tensor> pe = PromptEncoder.open(dir, new CpuOps())) {
            direct = pe.encode(List.of("a cat on the beach", "night city"));
            assertThat(direct.get(0).shape()).containsExactly(6, 32);
            assertThat(direct.get(1).shape()).containsExactly(3, 32);
        }
        // the same tensors split over two shards with an index, as real repos store them
        Path te = dir.resolve("text_encoder");
        Path sharded = dir.resolve("sharded").resolve("text_encoder");
        Files.createDirectories(sharded);
        Files.copy(te.resolve("config.json"), sharded.resolve("config.json"));
        StringBuilder index = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
        io.sparserender.engine.weights.SafetensorsWriter[] shards = {
            new io.sparserender.engine.weights.SafetensorsWriter(), new io.sparserender.engine.weights.SafetensorsWriter()};
        try (io.sparserender.engine.weights.SafetensorsFile f =
                io.sparserender.engine.weights.SafetensorsFile.open(te.resolve("model.safetensors"))) {
            int i = 0;
            for (String name : f.tensors().keySet()) {
                int s = name.startsWith("encoder.block.1") || name.startsWith("encoder.final") ? 1 : 0;
                shards[s].add(name, f.readTensor(name), io.sparserender.engine.tensor.DType.F32);
                index.append(i++ == 0 ? "" : ", ").append('"').append(name).append("\": \"model-0000")
                        .append(s + 1).append("-of-00002.safetensors\"");
            }
        }
        shards[0].write(sharded.resolve("model-00001-of-00002.safetensors"));
        shards[1].write(sharded.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(sharded.resolve("model.safetensors.index.json"), index.append("}}").toString());
        Files.createDirectories(dir.resolve("sharded/tokenizer"));
        Files.copy(dir.resolve("tokenizer/tokenizer.json"), dir.resolve("sharded/tokenizer/tokenizer.json"));
        try (PromptEncoder<Tensor> pe = PromptEncoder.open(dir.resolve("sharded"), new CpuOps())) {
            List<Tensor> again = pe.encode(List.of("a cat on the beach", "night city"));
            assertThat(again.get(0).data()).containsExactly(direct.get(0).data());
            assertThat(again.get(1).data()).containsExactly(direct.get(1).data());
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherWeights() throws Exception {
        TinyUmT5.defaults(7L).write(dir.resolve("a"));
        TinyUmT5.defaults(7L).write(dir.resolve("b"));
        TinyUmT5.defaults(8L).write(dir.resolve("c"));
        byte[] a = Files.readAllBytes(dir.resolve("a/text_encoder/model.safetensors"));
        assertThat(Files.readAllBytes(dir.resolve("b/text_encoder/model.safetensors"))).isEqualTo(a);
        assertThat(Files.readAllBytes(dir.resolve("c/text_encoder/model.safetensors"))).isNotEqualTo(a);
        assertThat(Files.readString(dir.resolve("a/tokenizer/tokenizer.json")))
                .isEqualTo(Files.readString(dir.resolve("c/tokenizer/tokenizer.json")));
    }
}
