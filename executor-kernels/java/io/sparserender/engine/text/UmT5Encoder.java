package io.sparserender.engine.text;

import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The umT5 encoder (transformers' {@code UMT5EncoderModel}, Wan's {@code T5Encoder}) over {@link Ops}.
 * Per block, with x the residual stream [B, L, d_model]:
 * <pre>
 *   h = RMSNorm(x)·γ1                         (T5 norm: x/√(mean(x²) + eps), no mean, no bias)
 *   x += O(Attention(Q h, K h, V h))          (no 1/√d scaling; scores + this layer's relative-position bias;
 *                                              keys with mask 0 excluded, padded query rows still computed)
 *   h = RMSNorm(x)·γ2
 *   x += Wo(Wi1 h · gelu_tanh(Wi0 h))         (gated GELU-tanh FFN; no biases anywhere)
 * </pre>
 * then a final RMSNorm. Unlike T5, every block has its own relative-position bias table [buckets, heads]
 * (bidirectional buckets, {@link RelativePositionBuckets}). The input is the token embedding, unscaled.
 */
public final class UmT5Encoder<T> implements AutoCloseable {
    private final Ops<T> ops;
    private final UmT5Weights<T> weights;
    private final UmT5Config config;

    public UmT5Encoder(Ops<T> ops, UmT5Weights<T> weights) {
        this.ops = Objects.requireNonNull(ops, "ops is null");
        this.weights = Objects.requireNonNull(weights, "weights is null");
        this.config = weights.config();
    }

    /** Loads a diffusers {@code text_encoder/} folder (config.json + safetensors) onto the backend. */
    public static <T> UmT5Encoder<T> open(Path textEncoderDir, Ops<T> ops) {
        return new UmT5Encoder<>(ops, UmT5Weights.load(textEncoderDir, ops));
    }

    public UmT5Config config() {
        return config;
    }

    /** {@code last_hidden_state} [B, L, d_model] for ids and mask [B][L] (mask 1 = real token, 0 = padding). */
    public T forward(int[][] ids, int[][] mask) {
        return forward(TokenBatch.of(ids, mask));
    }

    /** {@code last_hidden_state} [B, L, d_model], padded positions included (as transformers computes them). */
    public T forward(TokenBatch tokens) {
        int b = tokens.batch();
        int l = tokens.length();
        int d = config.dModel();
        int heads = config.numHeads();
        int dkv = config.dKv();
        float eps = config.eps();
        T x = ops.fromHost(weights.embed(tokens.ids()).reshape(b, l, d));
        T mask = ops.fromHost(new Tensor(tokens.maskAsFloats(), b, l));
        int[] buckets = RelativePositionBuckets.matrix(l, config.numBuckets(), config.maxDistance());
        // the hidden state in its own memory region, compacted after every layer
        io.sparserender.engine.ops.MemoryRegion<T> stream = ops.region();
        try {
            x = stream.compact(List.of(x)).get(0);
            for (UmT5Weights.Layer<T> layer : weights.layers()) {
                x = stream.compact(List.of(layer(layer, x, mask, buckets, b, l))).get(0);
            }
            T y = ops.rmsNorm(x, weights.finalNorm(), eps);
            return stream.closeKeeping(y);
        } catch (RuntimeException | Error ex) {
            stream.close();
            throw ex;
        }
    }

    private T layer(UmT5Weights.Layer<T> layer, T x, T mask, int[] buckets, int b, int l) {
        int d = config.dModel();
        int heads = config.numHeads();
        int dkv = config.dKv();
        float eps = config.eps();
        {
            T h = ops.rmsNorm(x, layer.attnNorm(), eps);
            T q = ops.reshape(ops.linear(h, layer.q(), null), b, l, heads, dkv);
            T k = ops.reshape(ops.linear(h, layer.k(), null), b, l, heads, dkv);
            T v = ops.reshape(ops.linear(h, layer.v(), null), b, l, heads, dkv);
            ops.release(h);
            T bias = positionBias(layer.relativeBias(), buckets, l);
            T attn = ops.attention(q, k, v, 1.0f, bias, mask);
            release(q, k, v, bias);
            T out = ops.linear(ops.reshape(attn, b, l, heads * dkv), layer.o(), null);
            ops.release(attn);
            x = residual(x, out);

            h = ops.rmsNorm(x, layer.ffnNorm(), eps);
            T gate = ops.linear(h, layer.wi0(), null);
            T act = ops.geluTanh(gate);
            T lin = ops.linear(h, layer.wi1(), null);
            release(h, gate);
            T prod = ops.mul(act, lin);
            release(act, lin);
            T ffn = ops.linear(prod, layer.wo(), null);
            ops.release(prod);
            x = residual(x, ffn);
        }
        return x;
    }

    /**
     * The pipeline's form: each row's output cut to its real token count (prompt pieces and {@code </s>}),
     * one [length_i, d_model] tensor per row. (The DiT pads the context back to 512 with zero rows.)
     */
    public List<T> encode(TokenBatch tokens) {
        T hidden = forward(tokens);
        List<T> out = cutToLengths(ops, hidden, tokens.lengths());
        ops.release(hidden);
        return out;
    }

    /** Row r of {@code hidden} [B, L, D], its first {@code lengths[r]} positions, as [lengths[r], D]. */
    public static <T> List<T> cutToLengths(Ops<T> ops, T hidden, int[] lengths) {
        int[] shape = ops.shape(hidden);
        if (shape.length != 3 || shape[0] != lengths.length) {
            throw new IllegalArgumentException("Cannot cut encoder output " + java.util.Arrays.toString(shape)
                    + " to " + lengths.length + " lengths");
        }
        List<T> out = new ArrayList<>();
        for (int r = 0; r < lengths.length; r++) {
            if (lengths[r] < 1 || lengths[r] > shape[1]) {
                throw new IllegalArgumentException("Cannot cut encoder output row " + r + " to " + lengths[r]
                        + " tokens: it has " + shape[1]);
            }
            T row = ops.slice(hidden, 0, r, r + 1);
            T cut = ops.slice(row, 1, 0, lengths[r]);
            ops.release(row);
            out.add(ops.reshape(cut, lengths[r], shape[2]));
        }
        return out;
    }

    /** This layer's bias [H, L, L]: table[bucket(j − i)][h] for query i, key j. */
    private T positionBias(T table, int[] buckets, int l) {
        T rows = ops.embedding(table, buckets);
        T cube = ops.reshape(rows, l, l, config.numHeads());
        T bias = ops.permute(cube, 2, 0, 1);
        ops.release(rows);
        return bias;
    }

    private T residual(T x, T delta) {
        T sum = ops.add(x, delta);
        release(x, delta);
        return sum;
    }

    @SafeVarargs
    private void release(T... ts) {
        for (T t : ts) {
            ops.release(t);
        }
    }

    @Override
    public void close() {
        weights.close();
    }
}
