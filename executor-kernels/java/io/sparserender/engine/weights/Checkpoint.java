package io.sparserender.engine.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.engine.tensor.Tensor;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The tensors of one model component, from one safetensors file or from shards listed in a
 * {@code *.safetensors.index.json} ({@code {"weight_map": {tensor: shard file}}}). Every shard is
 * opened and validated up front, and every tensor the index names must be in its shard.
 */
public final class Checkpoint implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path source;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor;

    private Checkpoint(Path source, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor) {
        this.source = source;
        this.files = files;
        this.byTensor = Collections.unmodifiableMap(byTensor);
    }

    /**
     * Opens a checkpoint from a {@code .safetensors} file, an index {@code .json} file, or a folder that
     * holds exactly one index or else one or more {@code .safetensors} files.
     */
    public static Checkpoint open(Path path) {
        if (Files.isDirectory(path)) {
            List<Path> indexes = list(path, "*.safetensors.index.json");
            if (indexes.size() > 1) {
                throw new WeightsException("Cannot open checkpoint " + path + ": several index files " + names(indexes));
            }
            if (indexes.size() == 1) {
                return openIndex(indexes.get(0));
            }
            List<Path> files = list(path, "*.safetensors");
            if (files.isEmpty()) {
                throw new WeightsException("Cannot open checkpoint " + path + ": no *.safetensors file in the folder");
            }
            return openFiles(path, files);
        }
        if (!Files.exists(path)) {
            throw new WeightsException("Cannot open checkpoint " + path + ": no such file or folder");
        }
        if (path.getFileName().toString().endsWith(".json")) {
            return openIndex(path);
        }
        return openFiles(path, List.of(path));
    }

    private static Checkpoint openIndex(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (IOException e) {
            throw new WeightsException("Invalid checkpoint index " + index + ": " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new WeightsException("Invalid checkpoint index " + index + ": no weight_map object");
        }
        Map<String, String> tensorToShard = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual() || e.getValue().asText().contains("/") || e.getValue().asText().contains("\\")) {
                throw new WeightsException("Invalid checkpoint index " + index + ": tensor '" + e.getKey()
                        + "' maps to " + e.getValue() + ", not a file name beside the index");
            }
            tensorToShard.put(e.getKey(), e.getValue().asText());
        }
        Map<String, SafetensorsFile> shards = new TreeMap<>();
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            for (String shard : new java.util.TreeSet<>(tensorToShard.values())) {
                Path p = index.resolveSibling(shard);
                if (!Files.exists(p)) {
                    throw new WeightsException("Cannot open checkpoint " + index + ": shard " + p + " is missing"
                            + listedIn(tensorToShard, shard));
                }
                SafetensorsFile f = SafetensorsFile.open(p);
                opened.add(f);
                shards.put(shard, f);
            }
            Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : tensorToShard.entrySet()) {
                SafetensorsFile f = shards.get(e.getValue());
                if (!f.contains(e.getKey())) {
                    throw new WeightsException("Invalid checkpoint " + index + ": tensor '" + e.getKey()
                            + "' is listed in shard " + f.path() + " but is not in it");
                }
                byTensor.put(e.getKey(), f);
            }
            return new Checkpoint(index, opened, byTensor);
        } catch (RuntimeException e) {
            opened.forEach(f -> closeInto(f, e));
            throw e;
        }
    }

    private static Checkpoint openFiles(Path source, List<Path> paths) {
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
            for (Path p : paths) {
                SafetensorsFile f = SafetensorsFile.open(p);
                opened.add(f);
                for (String name : f.tensors().keySet()) {
                    SafetensorsFile prev = byTensor.putIfAbsent(name, f);
                    if (prev != null) {
                        throw new WeightsException("Invalid checkpoint " + source + ": tensor '" + name
                                + "' is in both " + prev.path() + " and " + p);
                    }
                }
            }
            return new Checkpoint(source, opened, byTensor);
        } catch (RuntimeException e) {
            opened.forEach(f -> closeInto(f, e));
            throw e;
        }
    }

    public Path source() {
        return source;
    }

    /** Tensor names and their headers, in index (or file) order. */
    public Map<String, TensorInfo> tensors() {
        Map<String, TensorInfo> out = new LinkedHashMap<>();
        byTensor.forEach((name, f) -> out.put(name, f.info(name)));
        return out;
    }

    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    public TensorInfo info(String name) {
        return file(name).info(name);
    }

    /** The file that holds the tensor (for raw reads and uploads). */
    public SafetensorsFile file(String name) {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw new WeightsException("Cannot find tensor '" + name + "' in checkpoint " + source);
        }
        return f;
    }

    /**
     * Reads a model weight as float32, refusing NaN and infinite values (including F64 values beyond
     * float32's range) with the file and tensor named: a checkpoint holds weights, never masks.
     */
    public Tensor readTensor(String name) {
        SafetensorsFile f = file(name);
        Tensor t = f.readTensor(name);
        FiniteScan.requireFinite(t.data(), f.path(), name);
        return t;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (SafetensorsFile f : files) {
            try {
                f.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** " (the index lists N tensors in it, e.g. 'name')", so a missing shard names what it would have held. */
    private static String listedIn(Map<String, String> tensorToShard, String shard) {
        long n = tensorToShard.values().stream().filter(shard::equals).count();
        String first = tensorToShard.entrySet().stream().filter(e -> e.getValue().equals(shard)).map(Map.Entry::getKey)
                .findFirst().orElse("?");
        return " (the index lists " + n + " tensor" + (n == 1 ? "" : "s") + " in it, e.g. '" + first + "')";
    }

    private static List<Path> list(Path dir, String glob) {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, glob)) {
            ds.forEach(out::add);
        } catch (IOException e) {
            throw new WeightsException("Cannot list " + dir + ": " + e.getMessage(), e);
        }
        Collections.sort(out);
        return out;
    }

    private static String names(List<Path> paths) {
        List<String> n = new ArrayList<>();
        paths.forEach(p -> n.add(p.getFileName().toString()));
        return n.toString();
    }

    private static void closeInto(SafetensorsFile f, RuntimeException primary) {
        try {
            f.close();
        } catch (RuntimeException e) {
            primary.addSuppressed(e);
        }
    }
}
