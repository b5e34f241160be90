package io.sparserender.engine.text;

import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.Checkpoint;
import io.sparserender.engine.weights.TensorInfo;
import io.sparserender.engine.weights.WeightsException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The tensors of a umT5 encoder on a backend, loaded from a diffusers repo's {@code text_encoder/}
 * (transformers' {@code UMT5EncoderModel} key names: {@code shared.weight},
 * {@code encoder.block.N.layer.0.SelfAttention.{q,k,v,o,relative_attention_bias}.weight},
 * {@code encoder.block.N.layer.0.layer_norm.weight}, {@code encoder.block.N.layer.1.DenseReluDense.{wi_0,wi_1,wo}.weight},
 * {@code encoder.block.N.layer.1.layer_norm.weight}, {@code encoder.final_layer_norm.weight}). The token
 * embedding may also be stored as the tied alias {@code encoder.embed_tokens.weight}. Every tensor is
 * checked before any is read; one error lists all missing, unexpected and misshaped tensors. The
 * token embedding stays in its memory-mapped file ({@link TokenEmbeddingTable}); closing the weights
 * closes the checkpoint.
 */
public final class UmT5Weights<T> implements AutoCloseable {
    static final String EMBEDDING = "shared.weight";
    static final String EMBEDDING_ALIAS = "encoder.embed_tokens.weight";
    static final String FINAL_NORM = "encoder.final_layer_norm.weight";

    /** One encoder block; {@code relativeBias} is the [numBuckets, numHeads] table of this layer. */
    public record Layer<T>(T attnNorm, T q, T k, T v, T o, T relativeBias, T ffnNorm, T wi0, T wi1, T wo) {}

    private final UmT5Config config;
    private final Ops<T> ops;
    private final Checkpoint checkpoint;
    private final TokenEmbeddingTable embedding;
    private final List<Layer<T>> layers;
    private final T finalNorm;

    private UmT5Weights(UmT5Config config, Ops<T> ops, Checkpoint checkpoint, TokenEmbeddingTable embedding, List<Layer<T>> layers,
            T finalNorm) {
        this.config = config;
        this.ops = ops;
        this.checkpoint = checkpoint;
        this.embedding = embedding;
        this.layers = List.copyOf(layers);
        this.finalNorm = finalNorm;
    }

    public UmT5Config config() {
        return config;
    }

    /** Token embedding rows for host ids: [ids.length, d_model] on the host. */
    public Tensor embed(int[] ids) {
        return embedding.rows(ids);
    }

    public List<Layer<T>> layers() {
        return layers;
    }

    public T finalNorm() {
        return finalNorm;
    }

    /** Loads a {@code text_encoder/} folder: {@code config.json} plus one or sharded safetensors files. */
    public static <T> UmT5Weights<T> load(Path textEncoderDir, Ops<T> ops) {
        UmT5Config config = UmT5Config.read(textEncoderDir.resolve("config.json"));
        Checkpoint ckpt = Checkpoint.open(textEncoderDir);
        try {
            return load(config, ckpt, ops);
        } catch (RuntimeException e) {
            try {
                ckpt.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    @Override
    public void close() {
        layers.forEach(l -> List.of(l.attnNorm(), l.q(), l.k(), l.v(), l.o(), l.relativeBias(), l.ffnNorm(), l.wi0(),
                l.wi1(), l.wo()).forEach(ops::release));
        ops.release(finalNorm);
        checkpoint.close();
    }

    /** The tensor names and shapes a config requires, in load order (the embedding under its main name). */
    public static Map<String, int[]> expectedShapes(UmT5Config c) {
        Map<String, int[]> m = new LinkedHashMap<>();
        m.put(EMBEDDING, new int[] {c.vocabSize(), c.dModel()});
        for (int i = 0; i < c.numLayers(); i++) {
            String a = "encoder.block." + i + ".layer.0.";
            String f = "encoder.block." + i + ".layer.1.";
            m.put(a + "layer_norm.weight", new int[] {c.dModel()});
            m.put(a + "SelfAttention.q.weight", new int[] {c.innerDim(), c.dModel()});
            m.put(a + "SelfAttention.k.weight", new int[] {c.innerDim(), c.dModel()});
            m.put(a + "SelfAttention.v.weight", new int[] {c.innerDim(), c.dModel()});
            m.put(a + "SelfAttention.o.weight", new int[] {c.dModel(), c.innerDim()});
            m.put(a + "SelfAttention.relative_attention_bias.weight", new int[] {c.numBuckets(), c.numHeads()});
            m.put(f + "layer_norm.weight", new int[] {c.dModel()});
            m.put(f + "DenseReluDense.wi_0.weight", new int[] {c.dFf(), c.dModel()});
            m.put(f + "DenseReluDense.wi_1.weight", new int[] {c.dFf(), c.dModel()});
            m.put(f + "DenseReluDense.wo.weight", new int[] {c.dModel(), c.dFf()});
        }
        m.put(FINAL_NORM, new int[] {c.dModel()});
        return m;
    }

    /** Loads from an open checkpoint, which the returned weights then own (and close). */
    public static <T> UmT5Weights<T> load(UmT5Config config, Checkpoint ckpt, Ops<T> ops) {
        Objects.requireNonNull(ops, "ops is null");
        Map<String, int[]> expected = expectedShapes(config);
        Map<String, TensorInfo> present = ckpt.tensors();
        String embeddingName = !present.containsKey(EMBEDDING) && present.containsKey(EMBEDDING_ALIAS)
                ? EMBEDDING_ALIAS : EMBEDDING;
        List<String> missing = new ArrayList<>();
        List<String> misshaped = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        for (Map.Entry<String, int[]> e : expected.entrySet()) {
            String name = e.getKey().equals(EMBEDDING) ? embeddingName : e.getKey();
            TensorInfo info = present.get(name);
            if (info == null) {
                missing.add(name);
            } else if (!Arrays.equals(info.shape(), e.getValue())) {
                misshaped.add(name + " is " + Arrays.toString(info.shape()) + ", expected " + Arrays.toString(e.getValue()));
            } else if (!info.dtype().isFloatingPoint()) {
                misshaped.add(name + " has dtype " + info.dtype() + ", expected F32, F16 or BF16");
            }
        }
        for (Map.Entry<String, TensorInfo> e : present.entrySet()) {
            String name = e.getKey();
            boolean tiedAlias = name.equals(EMBEDDING_ALIAS) && present.containsKey(EMBEDDING)
                    && Arrays.equals(e.getValue().shape(), present.get(EMBEDDING).shape());
            if (!expected.containsKey(name) && !name.equals(embeddingName) && !tiedAlias) {
                unexpected.add(name);
            }
        }
        if (!missing.isEmpty() || !misshaped.isEmpty() || !unexpected.isEmpty()) {
            StringBuilder sb = new StringBuilder("Invalid umT5 text encoder " + ckpt.source() + " for config "
                    + config + ":");
            if (!missing.isEmpty()) {
                sb.append("\n  missing ").append(missing.size()).append(": ").append(missing);
            }
            if (!misshaped.isEmpty()) {
                sb.append("\n  misshaped ").append(misshaped.size()).append(": ").append(misshaped);
            }
            if (!unexpected.isEmpty()) {
                sb.append("\n  unexpected ").append(unexpected.size()).append(": ").append(unexpected);
            }
            throw new WeightsException(sb.toString());
        }
        TokenEmbeddingTable embedding = new TokenEmbeddingTable(ckpt, embeddingName);
        List<Layer<T>> layers = new ArrayList<>();
        for (int i = 0; i < config.numLayers(); i++) {
            String a = "encoder.block." + i + ".layer.0.";
            String f = "encoder.block." + i + ".layer.1.";
            layers.add(new Layer<>(upload(ops, ckpt, a + "layer_norm.weight"),
                    upload(ops, ckpt, a + "SelfAttention.q.weight"), upload(ops, ckpt, a + "SelfAttention.k.weight"),
                    upload(ops, ckpt, a + "SelfAttention.v.weight"), upload(ops, ckpt, a + "SelfAttention.o.weight"),
                    upload(ops, ckpt, a + "SelfAttention.relative_attention_bias.weight"),
                    upload(ops, ckpt, f + "layer_norm.weight"), upload(ops, ckpt, f + "DenseReluDense.wi_0.weight"),
                    upload(ops, ckpt, f + "DenseReluDense.wi_1.weight"), upload(ops, ckpt, f + "DenseReluDense.wo.weight")));
        }
        return new UmT5Weights<>(config, ops, ckpt, embedding, layers, upload(ops, ckpt, FINAL_NORM));
    }

    private static <T> T upload(Ops<T> ops, Checkpoint ckpt, String name) {
        Tensor host = ckpt.readTensor(name);
        return ops.parameter(host);
    }
}
