package io.sparserender.engine.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.text.UnigramTokenizerJson.Piece;
import io.sparserender.engine.weights.WeightsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A small umT5-format tokenizer.json, run by the native tokenizers library through DJL. */
class PromptTokenizerTest {
    @TempDir
    Path dir;

    // ids: <pad>=0 </s>=1 <unk>=2, then in order from 3:
    // 3 ▁  4 ▁a  5 ▁cat  6 ▁ca  7 t  8 s  9 ▁dog  10 ▁on  11 ▁the  12 ▁mat  13 a  14 c  15 .  16 ,  17 é  18 ▁café
    private Path tokenizer() {
        List<Piece> p = new ArrayList<>();
        p.add(new Piece("▁", -3.0));
        p.add(new Piece("▁a", -4.0));
        p.add(new Piece("▁cat", -5.0));
        p.add(new Piece("▁ca", -6.0));
        p.add(new Piece("t", -6.0));
        p.add(new Piece("s", -6.0));
        p.add(new Piece("▁dog", -5.0));
        p.add(new Piece("▁on", -5.0));
        p.add(new Piece("▁the", -4.0));
        p.add(new Piece("▁mat", -5.0));
        p.add(new Piece("a", -7.0));
        p.add(new Piece("c", -7.0));
        p.add(new Piece(".", -5.0));
        p.add(new Piece(",", -5.0));
        p.add(new Piece("é", -7.0));
        p.add(new Piece("▁café", -5.0));
        Path file = dir.resolve("tokenizer").resolve("tokenizer.json");
        UnigramTokenizerJson.write(file, p);
        return file.getParent();
    }

    @Test
    void tokenizesKnownStringsExactly() {
        try (PromptTokenizer t = PromptTokenizer.open(tokenizer())) {
            assertThat(t.pieces("a cat on the mat.")).containsExactly(4, 5, 10, 11, 12, 15);
            // "▁cats": ▁cat + s (-11) beats ▁ca + t + s (-18)
            assertThat(t.pieces("cats")).containsExactly(5, 8);
            // unknown character x → <unk>; "dog," → ▁dog ,
            assertThat(t.pieces("dog, x")).containsExactly(9, 16, 3, 2);
            // NFKC normaliser: "ｃａｔ" (full width) is "cat"
            assertThat(t.pieces("ｃａｔ")).containsExactly(5);
            assertThat(t.eosId()).isEqualTo(1);
            assertThat(t.padId()).isEqualTo(0);
        }
    }

    @Test
    void encodesCleanedPromptsWithEosAndPadding() {
        try (PromptTokenizer t = PromptTokenizer.open(tokenizer())) {
            TokenBatch b = t.encode(List.of("  a   cat\n on the &amp;amp; mat ", "cafÃ© cat"), 12);
            // row 0: cleaned "a cat on the & mat" — '&' is unknown
            assertThat(b.row(0)).containsExactly(4, 5, 10, 11, 3, 2, 12, 1, 0, 0, 0, 0);
            // row 1: mojibake fixed to "café cat"
            assertThat(b.row(1)).containsExactly(18, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0);
            assertThat(b.lengths()).containsExactly(8, 3);
            assertThat(Arrays.copyOfRange(b.mask(), 0, 12)).containsExactly(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0);
        }
    }

    @Test
    void truncatesToMaxLengthKeepingEos() {
        try (PromptTokenizer t = PromptTokenizer.open(tokenizer())) {
            TokenBatch b = t.encode(List.of("cat cat cat cat cat cat"), 4);
            assertThat(b.row(0)).containsExactly(5, 5, 5, 1);
            assertThat(t.encode(List.of("cat")).length()).isEqualTo(512);
        }
    }

    @Test
    void missingFileOrSpecialsAreNamed() throws Exception {
        Files.createDirectories(dir.resolve("nope"));
        assertThatThrownBy(() -> PromptTokenizer.open(dir.resolve("nope")))
                .isInstanceOf(WeightsException.class).hasMessageContaining("nope/tokenizer.json");
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"added_tokens\": [{\"id\": 0, \"content\": \"<pad>\"}], \"model\": {}}");
        assertThatThrownBy(() -> PromptTokenizer.open(bad)).hasMessageContaining("no added token '</s>'");
    }
}
