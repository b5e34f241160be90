package io.sparserender.engine.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.engine.weights.WeightsException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * umT5's tokenizer as Wan uses it: {@link TextCleaner#clean} first, then the repo's {@code tokenizer.json}
 * (SentencePiece Unigram in the Hugging Face tokenizers format, run by the native {@code tokenizers}
 * library through DJL), at most {@code maxLength − 1} pieces, {@code </s>} appended, padded with
 * {@code <pad>} to {@code maxLength} (512): transformers' {@code padding="max_length", truncation=True,
 * max_length=512} for a T5 tokenizer. The ids of {@code </s>} and {@code <pad>} are read from the file's
 * {@code added_tokens} (1 and 0 in umT5).
 */
public final class PromptTokenizer implements AutoCloseable {
    public static final int MAX_LENGTH = 512;
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // DJL picks a CUDA build of its native library when it sees a GPU and downloads it, which fails on
        // offline GPU hosts; tokenizing needs no GPU, and the CPU build ships inside the jar.
        if (System.getenv("RUST_FLAVOR") == null && System.getProperty("RUST_FLAVOR") == null) {
            System.setProperty("RUST_FLAVOR", "cpu");
        }
    }

    private final Path file;
    private final HuggingFaceTokenizer tokenizer;
    private final int eosId;
    private final int padId;

    private PromptTokenizer(Path file, HuggingFaceTokenizer tokenizer, int eosId, int padId) {
        this.file = file;
        this.tokenizer = tokenizer;
        this.eosId = eosId;
        this.padId = padId;
    }

    /** Opens {@code tokenizer.json} (the file, or a {@code tokenizer/} folder holding it). */
    public static PromptTokenizer open(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(file)) {
            throw new WeightsException("Cannot open tokenizer " + file + ": no such file");
        }
        int eos;
        int pad;
        try {
            JsonNode root = JSON.readTree(file.toFile());
            eos = specialId(root, file, "</s>");
            pad = specialId(root, file, "<pad>");
        } catch (IOException e) {
            throw new WeightsException("Invalid tokenizer " + file + ": " + e.getMessage(), e);
        }
        try {
            HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(file,
                    Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
            return new PromptTokenizer(file, t, eos, pad);
        } catch (IOException | RuntimeException e) {
            throw new WeightsException("Cannot load tokenizer " + file + ": " + e.getMessage(), e);
        } catch (UnsatisfiedLinkError e) {
            throw new WeightsException("Cannot load tokenizer " + file + ": the native tokenizers library of "
                    + "ai.djl.huggingface:tokenizers does not load on this platform (" + System.getProperty("os.name")
                    + "/" + System.getProperty("os.arch") + "): " + e.getMessage(), e);
        }
    }

    private static int specialId(JsonNode root, Path file, String content) {
        JsonNode added = root == null ? null : root.get("added_tokens");
        if (added != null && added.isArray()) {
            for (JsonNode t : added) {
                if (content.equals(t.path("content").asText(null)) && t.path("id").canConvertToInt()) {
                    return t.get("id").intValue();
                }
            }
        }
        throw new WeightsException("Invalid tokenizer " + file + ": no added token '" + content + "' in added_tokens");
    }

    public int eosId() {
        return eosId;
    }

    public int padId() {
        return padId;
    }

    /** The pieces of already cleaned text, no special tokens, no limit. */
    public int[] pieces(String cleanedText) {
        long[] ids = tokenizer.encode(cleanedText, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** Cleans and tokenizes prompts to [prompts, 512]. */
    public TokenBatch encode(List<String> prompts) {
        return encode(prompts, MAX_LENGTH);
    }

    /** Cleans and tokenizes: ≤ maxLength − 1 pieces, then {@code </s>}, then padding to maxLength. */
    public TokenBatch encode(List<String> prompts, int maxLength) {
        if (maxLength < 2) {
            throw new IllegalArgumentException("Invalid token length " + maxLength + ": at least 2 (a piece and </s>)");
        }
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("Cannot tokenize an empty list of prompts");
        }
        int b = prompts.size();
        int[] ids = new int[b * maxLength];
        int[] mask = new int[b * maxLength];
        java.util.Arrays.fill(ids, padId);
        for (int r = 0; r < b; r++) {
            int[] p = pieces(TextCleaner.clean(prompts.get(r)));
            int n = Math.min(p.length, maxLength - 1);
            System.arraycopy(p, 0, ids, r * maxLength, n);
            ids[r * maxLength + n] = eosId;
            java.util.Arrays.fill(mask, r * maxLength, r * maxLength + n + 1, 1);
        }
        return new TokenBatch(b, maxLength, ids, mask);
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    @Override
    public String toString() {
        return "PromptTokenizer[" + file + "]";
    }
}
