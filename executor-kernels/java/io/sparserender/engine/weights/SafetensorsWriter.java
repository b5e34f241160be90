package io.sparserender.engine.weights;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.HalfFloats;
import io.sparserender.engine.tensor.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Builds a safetensors file in memory and writes it atomically (temporary file in the same folder,
 * then a rename), so a reader never sees a half-written file.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private record Entry(String name, DType dtype, int[] shape, byte[] bytes) {}

    private final List<Entry> entries = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(Objects.requireNonNull(key, "key is null"), Objects.requireNonNull(value, "value is null"));
        return this;
    }

    public SafetensorsWriter add(String name, Tensor t, DType dtype) {
        return add(name, dtype, t.shape(), t.data());
    }

    public SafetensorsWriter add(String name, Tensor t) {
        return add(name, t, DType.F32);
    }

    /** Adds float values stored as {@code dtype} (F64, F32, F16 or BF16; rounding to nearest even). */
    public SafetensorsWriter add(String name, DType dtype, int[] shape, float[] values) {
        return addRaw(name, dtype, shape, encode(name, dtype, shape, values));
    }

    /**
     * The little-endian bytes {@link #add} stores for these floats as {@code dtype} (F64, F32, F16 or BF16): callable on
     * any thread, so that generated weights can be encoded in parallel and added in order ({@link GeneratedTensors}).
     */
    public static byte[] encode(String name, DType dtype, int[] shape, float[] values) {
        checkCount(name, shape, values.length);
        ByteBuffer b = ByteBuffer.allocate(values.length * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case F64 -> b.putDouble(v);
                case F32 -> b.putFloat(v);
                case F16 -> b.putShort(HalfFloats.floatToF16(v));
                case BF16 -> b.putShort(HalfFloats.floatToBf16(v));
                default -> throw new IllegalArgumentException("Cannot store floats of tensor '" + name + "' as " + dtype);
            }
        }
        return b.array();
    }

    public SafetensorsWriter addDoubles(String name, int[] shape, double[] values) {
        checkCount(name, shape, values.length);
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            b.putDouble(v);
        }
        return addRaw(name, DType.F64, shape, b.array());
    }

    /** Adds integer values stored as {@code dtype} (I64, I32, I16, I8, U8 or BOOL). */
    public SafetensorsWriter addLongs(String name, DType dtype, int[] shape, long[] values) {
        checkCount(name, shape, values.length);
        ByteBuffer b = ByteBuffer.allocate(values.length * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            switch (dtype) {
                case I64 -> b.putLong(v);
                case I32 -> b.putInt(Math.toIntExact(v));
                case I16 -> b.putShort((short) v);
                case I8, U8, BOOL -> b.put((byte) v);
                default -> throw new IllegalArgumentException("Cannot store integers of tensor '" + name + "' as " + dtype);
            }
        }
        return addRaw(name, dtype, shape, b.array());
    }

    /** Adds bytes already in the dtype's little-endian layout. */
    public SafetensorsWriter addRaw(String name, DType dtype, int[] shape, byte[] bytes) {
        Objects.requireNonNull(name, "name is null");
        if (name.equals("__metadata__")) {
            throw new IllegalArgumentException("Invalid tensor name '__metadata__': reserved by the format");
        }
        for (Entry e : entries) {
            if (e.name.equals(name)) {
                throw new IllegalArgumentException("Cannot add tensor '" + name + "': already added");
            }
        }
        long expected = Tensor.numel(shape) * dtype.byteSize();
        if (bytes.length != expected) {
            throw new IllegalArgumentException("Cannot add tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " of " + dtype + " needs " + expected + " bytes, got " + bytes.length);
        }
        entries.add(new Entry(name, dtype, shape.clone(), bytes));
        return this;
    }

    /** The complete file contents (files under 2 GiB; {@link #write} streams any size). */
    public byte[] toBytes() {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try {
            writeTo(out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    /** The 8-byte length, the JSON header padded with spaces to 8 bytes, then every tensor's bytes in order. */
    private void writeTo(OutputStream os) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Entry e : entries) {
            ObjectNode t = header.putObject(e.name);
            t.put("dtype", e.dtype.name());
            ArrayNode shape = t.putArray("shape");
            for (int d : e.shape) {
                shape.add(d);
            }
            ArrayNode off = t.putArray("data_offsets");
            off.add(offset);
            off.add(offset + e.bytes.length);
            offset += e.bytes.length;
        }
        byte[] json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // the format pads the header with spaces to 8 bytes
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded);
        head.put(json);
        for (int i = json.length; i < padded; i++) {
            head.put((byte) ' ');
        }
        os.write(head.array());
        for (Entry e : entries) {
            os.write(e.bytes);
        }
    }

    /** Writes the file atomically: a reader sees either nothing or the whole file. */
    public void write(Path path) {
        Path dir = path.toAbsolutePath().getParent();
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "." + path.getFileName(), ".tmp");
            try {
                try (OutputStream os = new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
                    writeTo(os);
                }
                if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                    // createTempFile makes the file private (0600); weights and tensors are meant to be shared.
                    Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
                }
                Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new WeightsException("Cannot write safetensors file " + path + ": " + e.getMessage(), e);
        }
    }

    private static void checkCount(String name, int[] shape, int count) {
        long n = Tensor.numel(shape);
        if (n != count) {
            throw new IllegalArgumentException("Cannot add tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " holds " + n + " elements, got " + count);
        }
    }
}
