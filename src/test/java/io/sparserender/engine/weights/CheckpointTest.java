package io.sparserender.engine.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    @TempDir
    Path dir;

    private void writeSharded() throws IOException {
        new SafetensorsWriter().add("a.weight", DType.F32, new int[] {2}, new float[] {1, 2})
                .write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsWriter().add("b.weight", DType.BF16, new int[] {1}, new float[] {3})
                .add("c.bias", DType.F32, new int[] {1}, new float[] {4})
                .write(dir.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(dir.resolve("model.safetensors.index.json"), """
                {"metadata": {"total_size": 14}, "weight_map": {
                  "a.weight": "model-00001-of-00002.safetensors",
                  "b.weight": "model-00002-of-00002.safetensors",
                  "c.bias": "model-00002-of-00002.safetensors"}}""");
    }

    @Test
    void shardedCheckpointOpensFromFolderOrIndex() throws IOException {
        writeSharded();
        for (Path p : new Path[] {dir, dir.resolve("model.safetensors.index.json")}) {
            try (Checkpoint c = Checkpoint.open(p)) {
                assertThat(c.tensors().keySet()).containsExactly("a.weight", "b.weight", "c.bias");
                assertThat(c.readTensor("a.weight").data()).containsExactly(1f, 2f);
                assertThat(c.readTensor("b.weight").data()).containsExactly(3f);
                assertThat(c.info("c.bias").dtype()).isEqualTo(DType.F32);
            }
        }
    }

    @Test
    void missingShardIsNamed() throws IOException {
        writeSharded();
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        assertThatThrownBy(() -> Checkpoint.open(dir)).isInstanceOf(WeightsException.class)
                .hasMessageContaining("shard " + dir.resolve("model-00002-of-00002.safetensors") + " is missing");
    }

    @Test
    void missingShardNamesWhatItWouldHaveHeld() throws IOException {
        writeSharded();
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageEndingWith(
                "is missing (the index lists 2 tensors in it, e.g. 'b.weight')");
    }

    @Test
    void nonFiniteWeightsAreRefusedWithFileTensorAndElement() throws IOException {
        Path f = dir.resolve("w.safetensors");
        new SafetensorsWriter()
                .add("ok", DType.F32, new int[] {2}, new float[] {1, 2})
                .add("nan", DType.F32, new int[] {2, 2}, new float[] {0, 1, Float.NaN, Float.NaN})
                .add("inf", DType.BF16, new int[] {3}, new float[] {Float.NEGATIVE_INFINITY, 0, 0})
                .addDoubles("big", new int[] {1}, new double[] {1e300})
                .write(f);
        try (Checkpoint c = Checkpoint.open(f)) {
            assertThat(c.readTensor("ok").data()).containsExactly(1f, 2f);
            assertThatThrownBy(() -> c.readTensor("nan")).isInstanceOf(WeightsException.class).hasMessage("Invalid weights in "
                    + f + ": tensor 'nan' holds NaN at element 2 (2 of 4 values are NaN or infinite)");
            assertThatThrownBy(() -> c.readTensor("inf")).hasMessage("Invalid weights in " + f
                    + ": tensor 'inf' holds -Infinity at element 0 (1 of 3 values are NaN or infinite)");
            // finite in float64, infinite once narrowed to the float32 the model computes in
            assertThatThrownBy(() -> c.readTensor("big")).hasMessageContaining("tensor 'big' holds Infinity at element 0");
        }
    }

    @Test
    void tensorListedInTheWrongShardIsNamed() throws IOException {
        writeSharded();
        Files.writeString(dir.resolve("model.safetensors.index.json"), """
                {"weight_map": {"a.weight": "model-00002-of-00002.safetensors"}}""");
        assertThatThrownBy(() -> Checkpoint.open(dir)).isInstanceOf(WeightsException.class)
                .hasMessageContaining("tensor 'a.weight' is listed in shard");
    }

    @Test
    void shardPathsOutsideTheFolderAreRefused() throws IOException {
        writeSharded();
        Files.writeString(dir.resolve("model.safetensors.index.json"), """
                {"weight_map": {"a.weight": "../../etc/passwd"}}""");
        assertThatThrownBy(() -> Checkpoint.open(dir)).isInstanceOf(WeightsException.class)
                .hasMessageContaining("not a file name beside the index");
    }

    @Test
    void tensorInTwoFilesIsRefused() throws IOException {
        new SafetensorsWriter().add("w", DType.F32, new int[] {1}, new float[] {1}).write(dir.resolve("x.safetensors"));
        new SafetensorsWriter().add("w", DType.F32, new int[] {1}, new float[] {2}).write(dir.resolve("y.safetensors"));
        assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("tensor 'w' is in both");
    }

    @Test
    void emptyFolderIsNamed() {
        assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessage("Cannot open checkpoint " + dir + ": no *.safetensors file in the folder");
    }
}
