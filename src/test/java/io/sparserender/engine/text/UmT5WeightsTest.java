package io.sparserender.engine.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.engine.weights.WeightsException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UmT5WeightsTest {
    @TempDir
    Path dir;

    @Test
    void oneErrorListsEveryMissingMisshapedAndUnexpectedTensor() throws Exception {
        TinyUmT5 tiny = new TinyUmT5(256, 8, 4, 2, 16, 1, 1L);
        tiny.writeTextEncoder(dir);
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter w = new SafetensorsWriter();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.tensors().keySet()) {
                if (name.equals("encoder.block.0.layer.1.DenseReluDense.wo.weight")) {
                    continue; // missing
                }
                Tensor t = f.readTensor(name);
                if (name.equals("encoder.final_layer_norm.weight")) {
                    t = new Tensor(new float[9], 9); // misshaped
                }
                w.add(name, t, DType.F32);
            }
        }
        w.add("decoder.block.0.layer.0.SelfAttention.q.weight", new Tensor(new float[4], 2, 2), DType.F32);
        Files.delete(file);
        w.write(file);
        assertThatThrownBy(() -> UmT5Weights.load(dir, new CpuOps()))
                .isInstanceOf(WeightsException.class)
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("missing 1: [encoder.block.0.layer.1.DenseReluDense.wo.weight]")
                .hasMessageContaining("misshaped 1: [encoder.final_layer_norm.weight is [9], expected [8]]")
                .hasMessageContaining("unexpected 1: [decoder.block.0.layer.0.SelfAttention.q.weight]");
    }

    @Test
    void acceptsTheTiedEmbeddingAliasAndRejectsBadConfig() throws Exception {
        TinyUmT5 tiny = new TinyUmT5(256, 8, 4, 2, 16, 1, 1L);
        tiny.writeTextEncoder(dir);
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter w = new SafetensorsWriter();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.tensors().keySet()) {
                w.add(name, f.readTensor(name), DType.BF16);
            }
            w.add("encoder.embed_tokens.weight", f.readTensor("shared.weight"), DType.BF16);
        }
        Files.delete(file);
        w.write(file);
        try (UmT5Weights<Tensor> weights = UmT5Weights.load(dir, new CpuOps())) {
            assertThat(weights.layers()).hasSize(1);
            assertThat(weights.embed(new int[] {5, 255}).shape()).containsExactly(2, 8);
            assertThatThrownBy(() -> weights.embed(new int[] {256}))
                    .hasMessageContaining("token id 256").hasMessageContaining("'shared.weight'");
        }
        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json"))
                .replace("\"gated-gelu\"", "\"relu\""));
        assertThatThrownBy(() -> UmT5Config.read(dir)).hasMessageContaining("feed_forward_proj is 'relu'")
                .hasMessageContaining("config.json");
    }

    @Test
    void bucketsMatchT5() {
        // hand-derived from the formula (32 buckets, max distance 128): exact below 8, log-spaced to 15
        assertThat(RelativePositionBuckets.bucket(0, 32, 128)).isZero();
        assertThat(RelativePositionBuckets.bucket(-3, 32, 128)).isEqualTo(3);
        assertThat(RelativePositionBuckets.bucket(3, 32, 128)).isEqualTo(19);
        assertThat(RelativePositionBuckets.bucket(-8, 32, 128)).isEqualTo(8);
        assertThat(RelativePositionBuckets.bucket(-16, 32, 128)).isEqualTo(10);
        assertThat(RelativePositionBuckets.bucket(-15, 32, 128)).isEqualTo(9);
        assertThat(RelativePositionBuckets.bucket(-127, 32, 128)).isEqualTo(15);
        assertThat(RelativePositionBuckets.bucket(-1000, 32, 128)).isEqualTo(15);
        assertThat(RelativePositionBuckets.bucket(1000, 32, 128)).isEqualTo(31);
    }
}
