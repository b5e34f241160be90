package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.weights.Checkpoint;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.engine.weights.TensorInfo;
import io.sparserender.engine.weights.WeightsException;
import io.sparserender.testing.SharedFixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WanWeightsCheckTest {
    @TempDir
    Path tmp;

    @Test
    void oneErrorListsTheMissingTheUnexpectedAndTheMisshapedTensor() throws IOException {
        Path src = SharedFixtures.path("wan-dit-ti2v/transformer");
        Path broken = tmp.resolve("broken");
        Files.createDirectories(broken);
        Files.copy(src.resolve("config.json"), broken.resolve("config.json"));
        SafetensorsWriter w = new SafetensorsWriter();
        try (Checkpoint c = Checkpoint.open(src)) {
            for (Map.Entry<String, TensorInfo> e : c.tensors().entrySet()) {
                String name = e.getKey();
                TensorInfo t = e.getValue();
                if (name.equals("blocks.0.attn2.to_v.bias")) {
                    continue; // missing
                }
                if (name.equals("proj_out.weight")) {
                    w.add(name, DType.F32, new int[] {191, 128}, new float[191 * 128]); // misshaped
                    continue;
                }
                w.addRaw(name, t.dtype(), t.shape(), c.file(name).rawBytes(name).array());
            }
        }
        w.add("blocks.0.attn1.to_qkv.weight", DType.F32, new int[] {2, 2}, new float[4]); // unexpected
        w.write(broken.resolve("diffusion_pytorch_model.safetensors"));

        WanModelDir.Expert expert = WanModelDir.resolve(broken).experts().get(0);
        assertThatThrownBy(() -> expert.load(new CpuOps()))
                .isInstanceOf(WeightsException.class)
                .hasMessageStartingWith("Invalid Wan checkpoint " + broken + " for config dim 128, 1 layers: 3 problems;")
                .hasMessageContaining("3 problems")
                .hasMessageContaining("missing 1: 'blocks.0.attn2.to_v.bias' [128] (original name 'blocks.0.cross_attn.v.bias')")
                .hasMessageContaining("unexpected 1: 'blocks.0.attn1.to_qkv.weight' [2, 2]")
                .hasMessageContaining("misshaped 1: 'proj_out.weight' is [191, 128], expected [192, 128]")
                .satisfies(e -> org.assertj.core.api.Assertions.assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void aTensorStoredUnderBothNamesIsReported() throws IOException {
        Path src = SharedFixtures.path("wan-dit-ti2v/transformer");
        Path both = tmp.resolve("both");
        io.sparserender.testing.CheckpointRewrite.rewrite(src, both, WanKeys::toOriginal, 1);
        Files.copy(src.resolve("config.json"), both.resolve("config.json"));
        SafetensorsWriter w = new SafetensorsWriter();
        try (Checkpoint c = Checkpoint.open(both)) {
            for (Map.Entry<String, TensorInfo> e : c.tensors().entrySet()) {
                w.addRaw(e.getKey(), e.getValue().dtype(), e.getValue().shape(), c.file(e.getKey()).rawBytes(e.getKey()).array());
            }
        }
        w.add("blocks.0.norm2.weight", DType.F32, new int[] {128}, new float[128]); // diffusers name of norm3
        w.write(both.resolve("diffusion_pytorch_model.safetensors"));
        assertThatThrownBy(() -> WanModelDir.resolve(both).experts().get(0).load(new CpuOps()))
                .isInstanceOf(WeightsException.class)
                .hasMessageContaining("1 problem;")
                .hasMessageContaining("'blocks.0.norm2.weight' is stored twice, as 'blocks.0.norm3.weight' and 'blocks.0.norm2.weight'");
    }
}
