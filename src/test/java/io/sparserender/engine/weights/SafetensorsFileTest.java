package io.sparserender.engine.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.HalfFloats;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.testing.SharedFixtures;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    @Test
    void writtenTensorsReadBackInEveryDtype() {
        float[] a = random(3 * 5 * 7, 1);
        Path p = dir.resolve("t.safetensors");
        new SafetensorsWriter()
                .metadata("format", "pt")
                .add("f32", DType.F32, new int[] {3, 5, 7}, a)
                .add("f16", DType.F16, new int[] {3, 5, 7}, a)
                .add("bf16", DType.BF16, new int[] {105}, a)
                .add("f64", DType.F64, new int[] {105}, a)
                .addLongs("ids", DType.I64, new int[] {2, 2}, new long[] {1, -2, 3, 1L << 40})
                .addLongs("mask", DType.I32, new int[] {3}, new long[] {1, 0, 1})
                .add("empty", DType.F32, new int[] {0, 4}, new float[0])
                .add("scalar", DType.F32, new int[] {}, new float[] {2.5f})
                .write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.metadata()).containsEntry("format", "pt");
            assertThat(f.tensors().keySet()).containsExactly("f32", "f16", "bf16", "f64", "ids", "mask", "empty", "scalar");
            Tensor t = f.readTensor("f32");
            assertThat(t.shape()).containsExactly(3, 5, 7);
            assertThat(t.data()).containsExactly(a);
            float[] h = f.readFloats("f16");
            float[] b = f.readFloats("bf16");
            for (int i = 0; i < a.length; i++) {
                assertThat(h[i]).isEqualTo(HalfFloats.f16ToFloat(HalfFloats.floatToF16(a[i])));
                assertThat(b[i]).isEqualTo(HalfFloats.roundToBf16(a[i]));
            }
            assertThat(f.readDoubles("f64")).containsExactly(Arrays.stream(toDoubles(a)).toArray());
            assertThat(f.readLongs("ids")).containsExactly(1, -2, 3, 1L << 40);
            assertThat(f.readLongs("mask")).containsExactly(1, 0, 1);
            assertThat(f.readFloats("empty")).isEmpty();
            assertThat(f.readTensor("scalar").data()).containsExactly(2.5f);
            assertThatThrownBy(() -> f.readLongs("f32")).isInstanceOf(WeightsException.class).hasMessageContaining("'f32'");
            assertThatThrownBy(() -> f.info("nope")).isInstanceOf(WeightsException.class)
                    .hasMessage("Cannot find tensor 'nope' in " + p);
        }
    }

    private static double[] toDoubles(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    /**
     * Tensors of several decoding chunks (2²⁰ elements each, decoded in parallel) read back element for element, in
     * order, in each float dtype; across small mapped segments too.
     */
    @Test
    void tensorsOfSeveralChunksReadBackInOrder() {
        int n = 2 * (1 << 20) + 12_345;
        float[] a = random(n, 9);
        Path p = dir.resolve("big.safetensors");
        new SafetensorsWriter().add("f32", DType.F32, new int[] {n}, a).add("bf16", DType.BF16, new int[] {n}, a)
                .add("f16", DType.F16, new int[] {n}, a).write(p);
        float[] bf16 = new float[n];
        float[] f16 = new float[n];
        for (int i = 0; i < n; i++) {
            bf16[i] = HalfFloats.roundToBf16(a[i]);
            f16[i] = HalfFloats.f16ToFloat(HalfFloats.floatToF16(a[i]));
        }
        for (int segment : new int[] {1 << 30, 65_536 + 2}) {
            try (SafetensorsFile f = SafetensorsFile.open(p, segment)) {
                assertThat(f.readFloats("f32")).as("f32, segments of %d bytes", segment).isEqualTo(a); // containsExactly is quadratic
                assertThat(f.readFloats("bf16")).as("bf16, segments of %d bytes", segment).isEqualTo(bf16); // containsExactly is quadratic
                assertThat(f.readFloats("f16")).as("f16, segments of %d bytes", segment).isEqualTo(f16); // containsExactly is quadratic
            }
        }
    }

    @Test
    void tensorsSpanningMappedSegmentsReadCorrectly() {
        // Segments of 64 bytes force every read across several mappings, as a >2 GiB file does with 1 GiB ones.
        float[] a = random(1000, 2);
        float[] c = random(77, 3);
        Path p = dir.resolve("seg.safetensors");
        new SafetensorsWriter().add("c", DType.BF16, new int[] {77}, c).add("a", DType.F32, new int[] {10, 100}, a).write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p, 64)) {
            assertThat(f.readFloats("a")).containsExactly(a);
            ByteBuffer part = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN);
            f.readRaw("a", 4 * 500, part);
            assertThat(part.flip().getFloat(0)).isEqualTo(a[500]);
            assertThat(f.readFloats("c")[76]).isEqualTo(HalfFloats.roundToBf16(c[76]));
            assertThatThrownBy(() -> f.readRaw("a", 3990, ByteBuffer.allocate(20)))
                    .isInstanceOf(WeightsException.class).hasMessageContaining("'a'");
        }
    }

    @Test
    void finiteScanStreamsAcrossSegmentsAndNamesTheFirstBadElement() {
        float[] a = random(3000, 9);
        a[2500] = Float.POSITIVE_INFINITY;
        a[2999] = Float.NaN;
        Path p = dir.resolve("scan.safetensors");
        new SafetensorsWriter().add("good", DType.F16, new int[] {5}, random(5, 1)).add("a", DType.BF16, new int[] {3000}, a)
                .addLongs("ids", DType.I64, new int[] {1}, new long[] {-1}).write(p);
        try (SafetensorsFile f = SafetensorsFile.open(p, 64)) {
            f.requireFinite("good");
            f.requireFinite("ids"); // integers are always finite
            assertThatThrownBy(() -> f.requireFinite("a")).isInstanceOf(WeightsException.class).hasMessage("Invalid weights in "
                    + p + ": tensor 'a' holds Infinity at element 2500 (2 of 3000 values are NaN or infinite)");
        }
    }

    @Test
    void readsThePyTorchAttentionFixture() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path("attn-d128.safetensors"))) {
            for (String n : new String[] {"q", "k", "v", "o"}) {
                assertThat(f.info(n).dtype()).isEqualTo(DType.F32);
                assertThat(f.info(n).shape()).containsExactly(1, 517, 2, 128);
            }
            float[] q = f.readFloats("q");
            assertThat(q).hasSize(517 * 2 * 128);
            for (float x : q) {
                assertThat(Float.isFinite(x)).isTrue();
            }
        }
    }

    // ---- hand-made broken files ----

    private Path rawFile(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return rawFile(h, h.length, dataBytes);
    }

    private Path rawFile(byte[] header, long declaredLength, int dataBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header);
        Path p = Files.createTempFile(dir, "broken", ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    @Test
    void truncatedFileIsRejected() throws IOException {
        Path p = dir.resolve("ok.safetensors");
        new SafetensorsWriter().add("w", DType.F32, new int[] {4, 4}, random(16, 4)).write(p);
        byte[] all = Files.readAllBytes(p);
        Path cut = dir.resolve("cut.safetensors");
        Files.write(cut, Arrays.copyOf(all, all.length - 5));
        assertThatThrownBy(() -> SafetensorsFile.open(cut)).isInstanceOf(WeightsException.class)
                .hasMessage("Invalid safetensors file " + cut + ": tensor 'w': data_offsets [0, 64] run past the end of the data section (59 bytes)");
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> SafetensorsFile.open(tiny)).hasMessageContaining("fewer than the 8-byte header length");
    }

    @Test
    void headerLengthPastTheEndIsRejected() throws IOException {
        Path p = rawFile("{}".getBytes(StandardCharsets.UTF_8), 1000, 0);
        assertThatThrownBy(() -> SafetensorsFile.open(p)).isInstanceOf(WeightsException.class)
                .hasMessage("Invalid safetensors file " + p + ": header length 1000 runs past the end of the file (10 bytes)");
        Path huge = rawFile("{}".getBytes(StandardCharsets.UTF_8), Long.MAX_VALUE, 0);
        assertThatThrownBy(() -> SafetensorsFile.open(huge)).hasMessageContaining("is outside [2, 104857600]");
    }

    @Test
    void overlappingRangesAreRejected() throws IOException {
        Path p = rawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16);
        assertThatThrownBy(() -> SafetensorsFile.open(p)).isInstanceOf(WeightsException.class)
                .hasMessage("Invalid safetensors file " + p + ": tensor 'b': byte range [8, 16) overlaps tensor 'a' [0, 16)");
    }

    @Test
    void unknownDtypeIsRejected() throws IOException {
        Path p = rawFile("{\"w\":{\"dtype\":\"F8_E9\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
        assertThatThrownBy(() -> SafetensorsFile.open(p)).isInstanceOf(WeightsException.class)
                .hasMessage("Invalid safetensors file " + p + ": tensor 'w': unknown dtype 'F8_E9'");
    }

    @Test
    void shapeSizeMismatchIsRejected() throws IOException {
        Path p = rawFile("{\"w\":{\"dtype\":\"BF16\",\"shape\":[3,3],\"data_offsets\":[0,16]}}", 16);
        assertThatThrownBy(() -> SafetensorsFile.open(p)).isInstanceOf(WeightsException.class)
                .hasMessage("Invalid safetensors file " + p + ": tensor 'w': shape [3,3] of BF16 needs 18 bytes but data_offsets span 16");
    }

    @Test
    void nonUtf8HeaderIsRejected() throws IOException {
        byte[] h = "{\"w\u00e9\":{}}".getBytes(StandardCharsets.ISO_8859_1);
        Path p = rawFile(h, h.length, 0);
        assertThatThrownBy(() -> SafetensorsFile.open(p)).isInstanceOf(WeightsException.class)
                .hasMessage("Invalid safetensors file " + p + ": header is not valid UTF-8");
    }

    @Test
    void malformedJsonAndDuplicateKeysAreRejected() throws IOException {
        Path p = rawFile("{\"w\": {\"dtype\": ", 0);
        assertThatThrownBy(() -> SafetensorsFile.open(p)).hasMessageStartingWith("Invalid safetensors file " + p + ": header is not well-formed JSON");
        Path dup = rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
        assertThatThrownBy(() -> SafetensorsFile.open(dup)).hasMessageContaining("Duplicate field 'w'");
        Path arr = rawFile("[1,2]", 0);
        assertThatThrownBy(() -> SafetensorsFile.open(arr)).hasMessage("Invalid safetensors file " + arr + ": header is not a JSON object");
    }

    @Test
    void negativeOrNonIntegerShapesAreRejected() throws IOException {
        Path p = rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4);
        assertThatThrownBy(() -> SafetensorsFile.open(p)).hasMessageContaining("tensor 'w': shape dimension 0 is not an integer");
        Path q = rawFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4);
        assertThatThrownBy(() -> SafetensorsFile.open(q)).hasMessageContaining("tensor 'w': data_offsets [4, 0] are not an ordered range");
    }

    /**
     * Random mutations of a valid file (bit flips, byte overwrites, truncation, header-length edits)
     * either open and read back cleanly or fail with a WeightsException: no other exception, ever.
     */
    @Test
    void randomMutationsGiveOnlyCleanErrors() throws IOException {
        Path ok = dir.resolve("valid.safetensors");
        new SafetensorsWriter().metadata("k", "v")
                .add("a", DType.F32, new int[] {3, 4}, random(12, 5))
                .add("b", DType.BF16, new int[] {5}, random(5, 6))
                .addLongs("c", DType.I64, new int[] {2}, new long[] {7, 8})
                .write(ok);
        byte[] valid = Files.readAllBytes(ok);
        SplittableRandom r = new SplittableRandom(42);
        int opened = 0;
        for (int trial = 0; trial < 3000; trial++) {
            byte[] m = valid.clone();
            int kind = r.nextInt(4);
            if (kind == 0) {
                int at = r.nextInt(m.length);
                m[at] ^= (byte) (1 << r.nextInt(8));
            } else if (kind == 1) {
                for (int j = 0; j < 1 + r.nextInt(4); j++) {
                    m[r.nextInt(Math.min(m.length, 8 + 200))] = (byte) r.nextInt(256);
                }
            } else if (kind == 2) {
                m = Arrays.copyOf(m, r.nextInt(m.length));
            } else {
                ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).putLong(0, r.nextLong(-5, m.length + 5));
            }
            Path p = dir.resolve("mut" + trial + ".safetensors");
            Files.write(p, m);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                for (TensorInfo t : f.tensors().values()) {
                    if (t.dtype().isFloatingPoint()) {
                        f.readFloats(t.name());
                    } else {
                        f.readLongs(t.name());
                    }
                }
                opened++;
            } catch (WeightsException expected) {
                assertThat(expected.getMessage()).contains(p.toString());
            }
            Files.delete(p);
        }
        assertThat(opened).as("some mutations (data bytes) leave a valid file").isPositive();
    }
}
