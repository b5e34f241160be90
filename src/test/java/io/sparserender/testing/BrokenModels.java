package io.sparserender.testing;

import io.sparserender.engine.pipeline.ModelRepo;
import io.sparserender.engine.weights.Checkpoint;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.engine.weights.TensorInfo;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * Copies of the generated tiny model with one defect each, as a user might meet them: a shard missing
 * or cut short, a header length past the end, a misshaped tensor, NaN or infinite weights, and the
 * wrong component's weights in the transformer folder.
 */
public final class BrokenModels {
    /** Where the defect is: the file a message must name and the tensor, or null when the defect has none. */
    public record Broken(Path root, Path file, String tensor) {}

    private BrokenModels() {}

    public static ModelRepo tiny(Path cache) {
        return ModelRepo.resolve("wan-tiny", cache);
    }

    /** The transformer in two shards with an index, the second shard deleted. */
    public static Broken missingShard(ModelRepo repo, Path to) throws IOException {
        Path t = sharded(repo, to);
        Path second = t.resolve("diffusion_pytorch_model-00002-of-00002.safetensors");
        Files.delete(second);
        return new Broken(to, second, null);
    }

    /** The transformer in two shards, the first cut 100 bytes short (its last tensor runs past the end). */
    public static Broken truncatedShard(ModelRepo repo, Path to) throws IOException {
        Path first = sharded(repo, to).resolve("diffusion_pytorch_model-00001-of-00002.safetensors");
        String last;
        try (Checkpoint c = Checkpoint.open(first)) {
            last = c.tensors().values().stream().max(Comparator.comparingLong(TensorInfo::end)).orElseThrow().name();
        }
        try (RandomAccessFile f = new RandomAccessFile(first.toFile(), "rw")) {
            f.setLength(f.length() - 100);
        }
        return new Broken(to, first, last);
    }

    /** The transformer file's 8-byte header length pointing past the end of the file. */
    public static Broken headerLengthPastTheEnd(ModelRepo repo, Path to) throws IOException {
        copy(repo.root(), to);
        Path f = to.resolve("transformer/diffusion_pytorch_model.safetensors");
        byte[] len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(Files.size(f) + 1000).array();
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.write(len);
        }
        return new Broken(to, f, null);
    }

    /** {@code proj_out.weight} stored with one row too few. */
    public static Broken wrongShape(ModelRepo repo, Path to) throws IOException {
        String name = "proj_out.weight";
        Path f = rewriteTransformer(repo, to, (n, t) -> {
            if (!n.equals(name)) {
                return null;
            }
            int[] s = t.shape();
            s[0]--;
            return s;
        }, null, Float.NaN);
        return new Broken(to, f.getParent(), name); // the shape check names the checkpoint (folder) and the tensor
    }

    /** One weight of layer 1's feed-forward set to NaN. */
    public static Broken nanWeight(ModelRepo repo, Path to) throws IOException {
        String name = "blocks.1.ffn.net.2.weight";
        return new Broken(to, rewriteTransformer(repo, to, (n, t) -> null, name, Float.NaN), name);
    }

    /** One VAE weight set to +Infinity. */
    public static Broken infiniteVaeWeight(ModelRepo repo, Path to) throws IOException {
        copy(repo.root(), to);
        Path f = to.resolve("vae/diffusion_pytorch_model.safetensors");
        String name;
        try (Checkpoint c = Checkpoint.open(f)) {
            name = c.tensors().keySet().stream().filter(n -> n.startsWith("decoder.conv_out.weight")).findFirst().orElseThrow();
        }
        poison(f, name, Float.POSITIVE_INFINITY, (n, t) -> null);
        return new Broken(to, f, name);
    }

    /** The VAE's weights in the transformer folder (its config still says transformer): the wrong model. */
    public static Broken wrongModel(ModelRepo repo, Path to) throws IOException {
        copy(repo.root(), to);
        Path f = to.resolve("transformer/diffusion_pytorch_model.safetensors");
        Files.copy(to.resolve("vae/diffusion_pytorch_model.safetensors"), f, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return new Broken(to, to.resolve("transformer"), "patch_embedding.weight");
    }

    /** The transformer's config.json describing a model no preset knows (3 layers instead of 2). */
    public static Broken unknownConfig(ModelRepo repo, Path to) throws IOException {
        copy(repo.root(), to);
        Path cfg = to.resolve("transformer/config.json");
        String json = Files.readString(cfg);
        String changed = json.replaceFirst("\"num_layers\"\\s*:\\s*2", "\"num_layers\": 3");
        if (changed.equals(json)) {
            throw new IllegalStateException("no num_layers 2 in " + cfg);
        }
        Files.writeString(cfg, changed);
        return new Broken(to, to, null);
    }

    /** A new shape for a tensor, or null to keep it. */
    private interface Reshape {
        int[] apply(String name, TensorInfo info);
    }

    private static Path rewriteTransformer(ModelRepo repo, Path to, Reshape reshape, String poisoned, float value)
            throws IOException {
        copy(repo.root(), to);
        Path f = to.resolve("transformer/diffusion_pytorch_model.safetensors");
        poison(f, poisoned, value, reshape);
        return f;
    }

    /** Rewrites a file: tensor {@code poisoned} (if any) gets {@code value} in its element 3, reshaped tensors get zeros. */
    private static void poison(Path f, String poisoned, float value, Reshape reshape) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        try (Checkpoint c = Checkpoint.open(f)) {
            for (Map.Entry<String, TensorInfo> e : c.tensors().entrySet()) {
                String n = e.getKey();
                TensorInfo t = e.getValue();
                int[] s = reshape.apply(n, t);
                if (s != null) {
                    w.add(n, t.dtype(), s, new float[(int) io.sparserender.engine.tensor.Tensor.numel(s)]);
                } else if (n.equals(poisoned)) {
                    float[] v = c.file(n).readFloats(n);
                    v[3] = value;
                    w.add(n, t.dtype(), t.shape(), v);
                } else {
                    w.addRaw(n, t.dtype(), t.shape(), c.file(n).rawBytes(n).array());
                }
            }
        }
        w.write(f);
    }

    private static Path sharded(ModelRepo repo, Path to) throws IOException {
        copy(repo.root(), to);
        Path t = to.resolve("transformer");
        Path single = t.resolve("diffusion_pytorch_model.safetensors");
        Path tmp = to.resolve("single.safetensors");
        Files.move(single, tmp);
        CheckpointRewrite.rewrite(tmp, t, UnaryOperator.identity(), 2);
        Files.delete(tmp);
        return t;
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }
}
