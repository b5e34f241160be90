package io.sparserender.engine.text;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.engine.weights.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * Writes a {@code tokenizer.json} in the layout transformers' T5/umT5 converter gives the Hugging Face
 * tokenizers library: specials {@code <pad>}=0, {@code </s>}=1, {@code <unk>}=2 as added tokens; a
 * normalizer sequence (NFKC, then strip on the right, then runs of 2+ spaces → "▁"); the Metaspace
 * pre-tokenizer ("▁", prepend_scheme "always", split); a TemplateProcessing post-processor appending
 * {@code </s>}; the Metaspace decoder; a Unigram model with {@code unk_id} 2. The real umT5 file's first
 * normalizer is SentencePiece's {@code Precompiled} nmt_nfkc char map, which cannot be produced here;
 * NFKC stands in for it (the same normalisation on ordinary text).
 */
public final class UnigramTokenizerJson {
    public static final String SPACE = "\u2581";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One vocabulary entry: its text (with "▁" for a leading space) and its log-probability score. */
    public record Piece(String text, double score) {}

    private UnigramTokenizerJson() {}

    /** Writes the file; {@code pieces} follow the three specials, so piece i gets id i + 3. */
    public static void write(Path file, List<Piece> pieces) {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        String[] specials = {"<pad>", "</s>", "<unk>"};
        for (int i = 0; i < specials.length; i++) {
            ObjectNode t = added.addObject();
            t.put("id", i);
            t.put("content", specials[i]);
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        }
        ObjectNode norm = root.putObject("normalizer");
        norm.put("type", "Sequence");
        ArrayNode ns = norm.putArray("normalizers");
        ns.addObject().put("type", "NFKC");
        ns.addObject().put("type", "Strip").put("strip_left", false).put("strip_right", true);
        ObjectNode replace = ns.addObject();
        replace.put("type", "Replace");
        replace.putObject("pattern").put("Regex", " {2,}");
        replace.put("content", SPACE);
        root.set("pre_tokenizer", metaspace());
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        single.addObject().putObject("SpecialToken").put("id", "</s>").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "</s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "</s>").put("type_id", 0);
        ObjectNode eos = post.putObject("special_tokens").putObject("</s>");
        eos.put("id", "</s>");
        eos.putArray("ids").add(1);
        eos.putArray("tokens").add("</s>");
        root.set("decoder", metaspace());
        ObjectNode model = root.putObject("model");
        model.put("type", "Unigram");
        model.put("unk_id", 2);
        ArrayNode vocab = model.putArray("vocab");
        for (String s : specials) {
            vocab.addArray().add(s).add(0.0);
        }
        for (Piece p : pieces) {
            vocab.addArray().add(p.text()).add(p.score());
        }
        model.put("byte_fallback", false);
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), root);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new WeightsException("Cannot write tokenizer " + file + ": " + e.getMessage(), e);
        }
    }

    private static ObjectNode metaspace() {
        ObjectNode m = JSON.createObjectNode();
        m.put("type", "Metaspace");
        m.put("replacement", SPACE);
        m.put("prepend_scheme", "always");
        m.put("split", true);
        return m;
    }
}
