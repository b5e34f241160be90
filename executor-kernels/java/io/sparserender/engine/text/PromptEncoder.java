package io.sparserender.engine.text;

import io.sparserender.engine.ops.Ops;
import java.nio.file.Path;
import java.util.List;

/**
 * Prompts to DiT context: clean, tokenize (512 with {@code </s>}), encode with umT5, cut each row to its
 * real token count. Opens a diffusers repo root holding {@code tokenizer/} and {@code text_encoder/}.
 */
public final class PromptEncoder<T> implements AutoCloseable {
    private final PromptTokenizer tokenizer;
    private final UmT5Encoder<T> encoder;

    public PromptEncoder(PromptTokenizer tokenizer, UmT5Encoder<T> encoder) {
        this.tokenizer = tokenizer;
        this.encoder = encoder;
    }

    public static <T> PromptEncoder<T> open(Path repoRoot, Ops<T> ops) {
        PromptTokenizer tok = PromptTokenizer.open(repoRoot.resolve("tokenizer"));
        try {
            return new PromptEncoder<>(tok, UmT5Encoder.open(repoRoot.resolve("text_encoder"), ops));
        } catch (RuntimeException e) {
            tok.close();
            throw e;
        }
    }

    public PromptTokenizer tokenizer() {
        return tokenizer;
    }

    public UmT5Encoder<T> encoder() {
        return encoder;
    }

    /** One [real tokens, d_model] tensor per prompt, in order. */
    public List<T> encode(List<String> prompts) {
        return encoder.encode(tokenizer.encode(prompts));
    }

    @Override
    public void close() {
        try {
            encoder.close();
        } finally {
            tokenizer.close();
        }
    }
}
