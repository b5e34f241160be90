package io.sparserender.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.engine.weights.Checkpoint;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.engine.weights.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/** Rewrites a checkpoint under other tensor names (e.g. the original Wan layout), bytes unchanged. */
public final class CheckpointRewrite {
    private static final ObjectMapper JSON = new ObjectMapper();

    private CheckpointRewrite() {}

    /** Copies every tensor (same dtype, same values) under renamed keys, in {@code shards} files with an index when > 1. */
    public static void rewrite(Path from, Path to, UnaryOperator<String> rename, int shards) throws IOException {
        Files.createDirectories(to);
        try (Checkpoint c = Checkpoint.open(from)) {
            List<Map.Entry<String, TensorInfo>> all = List.copyOf(c.tensors().entrySet());
            ObjectNode index = JSON.createObjectNode();
            ObjectNode map = index.putObject("weight_map");
            for (int s = 0; s < shards; s++) {
                SafetensorsWriter w = new SafetensorsWriter();
                String file = shards == 1 ? "diffusion_pytorch_model.safetensors"
                        : String.format("diffusion_pytorch_model-%05d-of-%05d.safetensors", s + 1, shards);
                for (int i = s; i < all.size(); i += shards) {
                    TensorInfo t = all.get(i).getValue();
                    byte[] raw = c.file(t.name()).rawBytes(t.name()).array();
                    String name = rename.apply(t.name());
                    w.addRaw(name, t.dtype(), t.shape(), raw);
                    map.put(name, file);
                }
                w.write(to.resolve(file));
            }
            if (shards > 1) {
                Files.writeString(to.resolve("diffusion_pytorch_model.safetensors.index.json"), JSON.writeValueAsString(index));
            }
        }
    }
}
