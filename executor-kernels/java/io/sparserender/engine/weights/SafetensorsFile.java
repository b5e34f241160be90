package io.sparserender.engine.weights;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.HalfFloats;
import io.sparserender.engine.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file, header validated on open and data memory-mapped.
 *
 * <p>Format: 8 bytes little-endian header length N, N bytes of UTF-8 JSON mapping tensor names to
 * {@code {dtype, shape, data_offsets:[begin,end]}} (offsets relative to the data section at 8 + N),
 * optionally {@code __metadata__} (string to string), then the data. Validation on open: N within the
 * file and at most {@link #MAX_HEADER_BYTES} (untrusted files cannot make us allocate more), strict
 * UTF-8, well-formed JSON without duplicate keys, every dtype known, shape × dtype size equal to the
 * byte range, ranges inside the data section and not overlapping.
 *
 * <p>The data section is mapped in segments of at most 1 GiB (a Java 17 mapping holds at most 2 GiB),
 * so files and tensors over 2 GiB are read piecewise.
 */
public final class SafetensorsFile implements AutoCloseable {
    public static final long MAX_HEADER_BYTES = 100L << 20;
    static final long DEFAULT_SEGMENT_BYTES = 1L << 30;
    private static final int CHUNK_ELEMENTS = 1 << 20;
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final long dataLength;
    private final long segmentBytes;
    private final MappedByteBuffer[] segments;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, long dataLength, long segmentBytes,
                            Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.dataLength = dataLength;
        this.segmentBytes = segmentBytes;
        this.segments = new MappedByteBuffer[(int) ((dataLength + segmentBytes - 1) / segmentBytes)];
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    public static SafetensorsFile open(Path path) {
        return open(path, DEFAULT_SEGMENT_BYTES);
    }

    static SafetensorsFile open(Path path, long segmentBytes) {
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new WeightsException("Cannot open safetensors file " + path + ": no such file");
        } catch (IOException e) {
            throw new WeightsException("Cannot open safetensors file " + path + ": " + e.getMessage(), e);
        }
        try {
            return readHeader(path, channel, segmentBytes);
        } catch (RuntimeException e) {
            closeQuietly(channel, e);
            throw e;
        } catch (IOException e) {
            closeQuietly(channel, e);
            throw new WeightsException("Cannot read safetensors file " + path + ": " + e.getMessage(), e);
        }
    }

    private static SafetensorsFile readHeader(Path path, FileChannel channel, long segmentBytes) throws IOException {
        long fileSize = channel.size();
        if (fileSize < 8) {
            throw invalid(path, "file has " + fileSize + " bytes, fewer than the 8-byte header length");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, lenBuf, 0);
        long headerLen = lenBuf.getLong(0);
        if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
            throw invalid(path, "header length " + Long.toUnsignedString(headerLen)
                    + " is outside [2, " + MAX_HEADER_BYTES + "]");
        }
        if (8 + headerLen > fileSize) {
            throw invalid(path, "header length " + headerLen + " runs past the end of the file ("
                    + fileSize + " bytes)");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
        readFully(channel, headerBuf, 8);
        headerBuf.flip();
        String headerText;
        try {
            headerText = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(headerBuf).toString();
        } catch (CharacterCodingException e) {
            throw invalid(path, "header is not valid UTF-8");
        }
        JsonNode root;
        try {
            root = JSON.readTree(headerText);
        } catch (IOException e) {
            throw invalid(path, "header is not well-formed JSON (" + firstLine(e.getMessage()) + ")");
        }
        if (root == null || !root.isObject()) {
            throw invalid(path, "header is not a JSON object");
        }
        long dataStart = 8 + headerLen;
        long dataLength = fileSize - dataStart;
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                readMetadata(path, e.getValue(), metadata);
            } else {
                tensors.put(e.getKey(), parseEntry(path, e.getKey(), e.getValue(), dataLength));
            }
        }
        checkNoOverlap(path, tensors.values());
        return new SafetensorsFile(path, channel, dataStart, dataLength, segmentBytes, tensors, metadata);
    }

    private static void readMetadata(Path path, JsonNode node, Map<String, String> out) {
        if (!node.isObject()) {
            throw invalid(path, "__metadata__ is not an object");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> m = it.next();
            if (!m.getValue().isTextual()) {
                throw invalid(path, "__metadata__ value of key '" + m.getKey() + "' is not a string");
            }
            out.put(m.getKey(), m.getValue().asText());
        }
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode node, long dataLength) {
        if (!node.isObject()) {
            throw invalidTensor(path, name, "entry is not an object");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw invalidTensor(path, name, "dtype is missing or not a string");
        }
        DType dtype = DType.fromName(dtypeNode.asText())
                .orElseThrow(() -> invalidTensor(path, name, "unknown dtype '" + dtypeNode.asText() + "'"));
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw invalidTensor(path, name, "shape is missing or not an array");
        }
        int[] shape = new int[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0 || d.asLong() > Integer.MAX_VALUE) {
                throw invalidTensor(path, name, "shape dimension " + i + " is not an integer in [0, 2^31): " + d);
            }
            shape[i] = d.asInt();
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException overflow) {
                throw invalidTensor(path, name, "shape " + shapeNode + " overflows");
            }
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()
                || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
            throw invalidTensor(path, name, "data_offsets is not a pair of integers");
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw invalidTensor(path, name, "data_offsets [" + begin + ", " + end + "] are not an ordered range");
        }
        if (end > dataLength) {
            throw invalidTensor(path, name, "data_offsets [" + begin + ", " + end
                    + "] run past the end of the data section (" + dataLength + " bytes)");
        }
        long expected;
        try {
            expected = Math.multiplyExact(numel, (long) dtype.byteSize());
        } catch (ArithmeticException overflow) {
            throw invalidTensor(path, name, "shape " + shapeNode + " overflows");
        }
        if (end - begin != expected) {
            throw invalidTensor(path, name, "shape " + shapeNode + " of " + dtype + " needs " + expected
                    + " bytes but data_offsets span " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static void checkNoOverlap(Path path, Iterable<TensorInfo> infos) {
        List<TensorInfo> sorted = new ArrayList<>();
        infos.forEach(t -> {
            if (t.byteSize() > 0) {
                sorted.add(t);
            }
        });
        sorted.sort(Comparator.comparingLong(TensorInfo::begin));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo a = sorted.get(i - 1);
            TensorInfo b = sorted.get(i);
            if (b.begin() < a.end()) {
                throw invalidTensor(path, b.name(), "byte range [" + b.begin() + ", " + b.end()
                        + ") overlaps tensor '" + a.name() + "' [" + a.begin() + ", " + a.end() + ")");
            }
        }
    }

    public Path path() {
        return path;
    }

    /** Tensors in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new WeightsException("Cannot find tensor '" + name + "' in " + path);
        }
        return t;
    }

    /** Reads a tensor of any numeric dtype as float32. */
    public Tensor readTensor(String name) {
        return new Tensor(readFloats(name), info(name).shape());
    }

    /**
     * The tensor's values as float32, decoded in chunks of {@value #CHUNK_ELEMENTS} elements on all cores (each chunk
     * reads its own byte range of the mapped file): decoding on one thread was most of a 5B model's load, ≈ 2–3 ns a value.
     */
    public float[] readFloats(String name) {
        TensorInfo t = info(name);
        float[] out = new float[checkedLength(t)];
        int size = t.dtype().byteSize();
        int chunks = (out.length + CHUNK_ELEMENTS - 1) / CHUNK_ELEMENTS;
        java.util.stream.IntStream range = java.util.stream.IntStream.range(0, chunks);
        (chunks > 1 ? range.parallel() : range).forEach(c -> {
            int start = c * CHUNK_ELEMENTS;
            int n = Math.min(CHUNK_ELEMENTS, out.length - start);
            ByteBuffer chunk = ByteBuffer.allocate(n * size).order(ByteOrder.LITTLE_ENDIAN);
            readRange(t.begin() + (long) start * size, chunk);
            chunk.flip();
            for (int i = 0; i < n; i++) {
                out[start + i] = (float) readElement(chunk, t.dtype(), i * size);
            }
        });
        return out;
    }

    /**
     * Refuses a floating-point tensor holding NaN or infinite values (as float32), naming this file, the
     * tensor and the first bad element; streams the stored bytes in chunks, so tensors of any size (the
     * umT5-XXL token table is 2 GB) are scanned without a copy.
     */
    public void requireFinite(String name) {
        TensorInfo t = info(name);
        if (!t.dtype().isFloatingPoint()) {
            return;
        }
        int size = t.dtype().byteSize();
        long numel = t.numel();
        ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(numel, CHUNK_ELEMENTS) * size).order(ByteOrder.LITTLE_ENDIAN);
        long first = -1;
        float firstValue = 0;
        long bad = 0;
        for (long start = 0; start < numel; start += CHUNK_ELEMENTS) {
            int n = (int) Math.min(CHUNK_ELEMENTS, numel - start);
            chunk.clear().limit(n * size);
            readRange(t.begin() + start * size, chunk);
            chunk.flip();
            for (int i = 0; i < n; i++) {
                float v = (float) readElement(chunk, t.dtype(), i * size);
                if (!Float.isFinite(v)) {
                    if (first < 0) {
                        first = start + i;
                        firstValue = v;
                    }
                    bad++;
                }
            }
        }
        if (first >= 0) {
            throw FiniteScan.nonFinite(path, name, first, firstValue, bad, numel);
        }
    }

    /** Reads a tensor of any numeric dtype as float64 (exact for F64, F32, F16, BF16 and I32). */
    public double[] readDoubles(String name) {
        TensorInfo t = info(name);
        double[] out = new double[checkedLength(t)];
        ByteBuffer all = rawBytes(name);
        for (int i = 0; i < out.length; i++) {
            out[i] = readElement(all, t.dtype(), i * t.dtype().byteSize());
        }
        return out;
    }

    /** Reads an integer tensor (I8, I16, I32, I64, U8, BOOL) as longs. */
    public long[] readLongs(String name) {
        TensorInfo t = info(name);
        if (t.dtype().isFloatingPoint()) {
            throw new WeightsException("Cannot read tensor '" + name + "' in " + path + " as integers: dtype is " + t.dtype());
        }
        long[] out = new long[checkedLength(t)];
        ByteBuffer all = rawBytes(name);
        int size = t.dtype().byteSize();
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (t.dtype()) {
                case I64 -> all.getLong(i * size);
                case I32 -> all.getInt(i * size);
                case I16 -> all.getShort(i * size);
                case I8 -> all.get(i * size);
                case U8, BOOL -> all.get(i * size) & 0xFF;
                default -> throw new IllegalStateException(t.dtype().name());
            };
        }
        return out;
    }

    /** A copy of the tensor's stored bytes (little-endian), for tensors under 2 GiB. */
    public ByteBuffer rawBytes(String name) {
        TensorInfo t = info(name);
        if (t.byteSize() > Integer.MAX_VALUE - 8) {
            throw new WeightsException("Cannot copy tensor '" + name + "' in " + path + " into one buffer: "
                    + t.byteSize() + " bytes; use readRaw in parts");
        }
        ByteBuffer out = ByteBuffer.allocate((int) t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        readRange(t.begin(), out);
        out.flip();
        return out;
    }

    /**
     * Copies {@code dst.remaining()} bytes of a tensor's storage, starting {@code offset} bytes into the
     * tensor, into {@code dst} (the path for uploads to the GPU and for tensors over 2 GiB).
     */
    public void readRaw(String name, long offset, ByteBuffer dst) {
        TensorInfo t = info(name);
        if (offset < 0 || offset + dst.remaining() > t.byteSize()) {
            throw new WeightsException("Cannot read bytes [" + offset + ", " + (offset + dst.remaining())
                    + ") of tensor '" + name + "' in " + path + ": it has " + t.byteSize() + " bytes");
        }
        readRange(t.begin() + offset, dst);
    }

    private int checkedLength(TensorInfo t) {
        if (t.numel() > Integer.MAX_VALUE - 8) {
            throw new WeightsException("Cannot read tensor '" + t.name() + "' in " + path + " into one array: "
                    + t.numel() + " elements");
        }
        return (int) t.numel();
    }

    private static double readElement(ByteBuffer b, DType dtype, int at) {
        return switch (dtype) {
            case F64 -> b.getDouble(at);
            case F32 -> b.getFloat(at);
            case F16 -> HalfFloats.f16ToFloat(b.getShort(at));
            case BF16 -> HalfFloats.bf16ToFloat(b.getShort(at));
            case I64 -> b.getLong(at);
            case I32 -> b.getInt(at);
            case I16 -> b.getShort(at);
            case I8 -> b.get(at);
            case U8, BOOL -> b.get(at) & 0xFF;
        };
    }

    /** Copies bytes starting at {@code dataOffset} of the data section into dst, across mapped segments. */
    private void readRange(long dataOffset, ByteBuffer dst) {
        while (dst.hasRemaining()) {
            int seg = (int) (dataOffset / segmentBytes);
            int within = (int) (dataOffset % segmentBytes);
            MappedByteBuffer m = segment(seg);
            int n = Math.min(dst.remaining(), m.capacity() - within);
            dst.put(dst.position(), m, within, n);
            dst.position(dst.position() + n);
            dataOffset += n;
        }
    }

    private synchronized MappedByteBuffer segment(int i) {
        if (segments[i] == null) {
            long start = (long) i * segmentBytes;
            long len = Math.min(segmentBytes, dataLength - start);
            try {
                segments[i] = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + start, len);
            } catch (IOException e) {
                throw new WeightsException("Cannot map " + path + " bytes [" + start + ", " + (start + len) + "): "
                        + e.getMessage(), e);
            }
        }
        return segments[i];
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new WeightsException("Cannot close " + path + ": " + e.getMessage(), e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer dst, long position) throws IOException {
        while (dst.hasRemaining()) {
            int n = ch.read(dst, position);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + position);
            }
            position += n;
        }
    }

    private static void closeQuietly(FileChannel ch, Exception primary) {
        try {
            ch.close();
        } catch (IOException e) {
            primary.addSuppressed(e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "no detail";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    static WeightsException invalid(Path path, String what) {
        return new WeightsException("Invalid safetensors file " + path + ": " + what);
    }

    static WeightsException invalidTensor(Path path, String tensor, String what) {
        return new WeightsException("Invalid safetensors file " + path + ": tensor '" + tensor + "': " + what);
    }
}
