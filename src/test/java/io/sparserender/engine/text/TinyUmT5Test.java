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
