package io.sparserender.engine.vae;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.engine.weights.WeightsException;
import io.sparserender.testing.SharedFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WanVaeWeightsTest {
    @Test
    void readsBothFixtureConfigs() {
        WanVaeConfig v21 = WanVaeConfig.read(SharedFixtures.path("wan-vae21/vae/config.json"));
        assertThat(v21.decoderDims()).containsExactly(32, 32, 32, 32, 16);
        assertThat(v21.spatialFactor()).isEqualTo(8);
        assertThat(v21.videoChannels()).isEqualTo(3);
        WanVaeConfig v22 = WanVaeConfig.read(SharedFixtures.path("wan-vae22/vae/config.json"));
        assertThat(v22.decoderDims()).containsExactly(48, 48, 48, 48, 24);
        assertThat(v22.spatialFactor()).isEqualTo(16);
        assertThat(v22.videoChannels()).isEqualTo(3);
        assertThat(v22.temporalFactor()).isEqualTo(4);
        assertThat(v22.latentsStd()).hasSize(8);
        assertThat(WanVaeConfig.read(writeString(SharedFixtures.root().getParent(), v22))).isEqualTo(v22);
    }

    private static Path writeString(Path unused, WanVaeConfig c) {
        try {
            Path p = Files.createTempFile("vae-config", ".json");
            Files.writeString(p, c.toJson());
            p.toFile().deleteOnExit();
            return p;
        } catch (java.io.IOException e) {
            throw new RuntimeException(e);
        }
    }

    @Test
    void tellsVaeFoldersFromOthers(@TempDir Path dir) {
        assertThat(WanVaeConfig.isWanVaeFolder(SharedFixtures.path("wan-vae21/vae"))).isTrue();
        assertThat(WanVaeConfig.isWanVaeFolder(SharedFixtures.path("wan-dit-h128/transformer"))).isFalse();
        assertThat(WanVaeConfig.isWanVaeFolder(dir)).isFalse();
    }

    @Test
    void specMatchesTheFixtureCheckpointsExactly() {
        for (String f : new String[] {"wan-vae21", "wan-vae22"}) {
            Path folder = SharedFixtures.path(f + "/vae");
            WanVaeWeights w = WanVaeWeights.load(folder);
            try (SafetensorsFile st = SafetensorsFile.open(folder.resolve("diffusion_pytorch_model.safetensors"))) {
                long decoderTensors = st.tensors().keySet().stream()
                        .filter(n -> !n.startsWith("encoder.") && !n.startsWith("quant_conv.")).count();
                assertThat(w.tensors()).hasSize((int) decoderTensors);
            }
        }
    }

    @Test
    void listsEveryMissingMisshapedAndUnexpectedTensorInOneError(@TempDir Path dir) throws Exception {
        WanVaeConfig cfg = WanVaeTiny.wan21(4, 1);
        SafetensorsWriter w = new SafetensorsWriter();
        for (Map.Entry<String, int[]> e : WanVaeWeights.decoderShapes(cfg).entrySet()) {
            String name = e.getKey();
            if (name.equals("decoder.conv_in.bias") || name.equals("decoder.norm_out.gamma")) {
                continue; // missing
            }
            int[] shape = name.equals("post_quant_conv.weight") ? new int[] {4, 4, 1, 1} : e.getValue();
            w.add(name, DType.F32, shape, new float[(int) io.sparserender.engine.tensor.Tensor.numel(shape)]);
        }
        w.add("decoder.extra.weight", DType.F32, new int[] {2}, new float[2]);
        w.add("encoder.conv_in.weight", DType.F32, new int[] {2}, new float[2]); // encoder tensors are skipped
        cfg.write(dir.resolve("config.json"));
        w.write(dir.resolve("diffusion_pytorch_model.safetensors"));
        assertThatThrownBy(() -> WanVaeWeights.load(dir))
                .isInstanceOf(WeightsException.class)
                .hasMessageContaining("Invalid Wan VAE checkpoint " + dir)
                .hasMessageContaining("2 missing tensors: decoder.conv_in.bias [16], decoder.norm_out.gamma [8, 1, 1, 1];")
                .hasMessageContaining("1 misshaped tensor: post_quant_conv.weight is F32[4, 4, 1, 1], expected float [4, 4, 1, 1, 1];")
                .hasMessageContaining("1 unexpected tensor: decoder.extra.weight;");
    }

    @Test
    void configErrorsNameTheFileAndKey(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("config.json");
        Files.writeString(cfg, "{\"_class_name\": \"AutoencoderKLWan\", \"z_dim\": 4, \"latents_mean\": [0, 0, 0],"
                + " \"latents_std\": [1, 1, 1, 1]}");
        assertThatThrownBy(() -> WanVaeConfig.read(cfg))
                .hasMessage("Invalid Wan VAE config " + cfg + ": Invalid Wan VAE config: latents_mean must have z_dim = 4 entries, got 3");
        Files.writeString(cfg, "{\"dim_mult\": \"wide\"}");
        assertThatThrownBy(() -> WanVaeConfig.read(cfg))
                .hasMessage("Invalid Wan VAE config " + cfg + ": dim_mult is \"wide\", not an array");
        assertThatThrownBy(() -> WanVaeWeights.load(dir.resolve("nowhere")))
                .hasMessage("Cannot load Wan VAE from " + dir.resolve("nowhere") + ": no config.json in the folder");
    }

    /** The published configs' decoder fields (Wan2.1-T2V-1.3B-Diffusers, Wan2.2-TI2V-5B-Diffusers), stats as placeholders. */
    private static WanVaeConfig published(boolean wan22, Path dir) throws Exception {
        int z = wan22 ? 48 : 16;
        String stats = "\"latents_mean\": " + java.util.Collections.nCopies(z, "0.0") + ", \"latents_std\": "
                + java.util.Collections.nCopies(z, "1.0");
        String json = wan22
                ? "{\"_class_name\": \"AutoencoderKLWan\", \"attn_scales\": [], \"base_dim\": 160, \"clip_output\": false,"
                        + " \"decoder_base_dim\": 256, \"dim_mult\": [1, 2, 4, 4], \"dropout\": 0.0, \"in_channels\": 12,"
                        + " \"is_residual\": true, \"num_res_blocks\": 2, \"out_channels\": 12, \"patch_size\": 2,"
                        + " \"scale_factor_spatial\": 16, \"scale_factor_temporal\": 4,"
                        + " \"temperal_downsample\": [false, true, true], \"z_dim\": 48, " + stats + "}"
                : "{\"_class_name\": \"AutoencoderKLWan\", \"attn_scales\": [], \"base_dim\": 96, \"dim_mult\": [1, 2, 4, 4],"
                        + " \"dropout\": 0.0, \"num_res_blocks\": 2, \"temperal_downsample\": [false, true, true],"
                        + " \"z_dim\": 16, " + stats + "}";
        Path p = dir.resolve(wan22 ? "v22.json" : "v21.json");
        Files.writeString(p, json);
        return WanVaeConfig.read(p);
    }

    @Test
    void publishedConfigsGiveTheReferenceWidthsAndParameterCounts(@TempDir Path dir) throws Exception {
        WanVaeConfig v21 = published(false, dir);
        assertThat(v21.decoderDims()).containsExactly(384, 384, 384, 192, 96);
        assertThat(v21.spatialFactor()).isEqualTo(8);
        assertThat(v21.clipOutput()).isTrue();
        assertThat(parameters(v21) / 1e6).isCloseTo(73.3, org.assertj.core.data.Offset.offset(0.1));
        WanVaeConfig v22 = published(true, dir);
        assertThat(v22.decoderDims()).containsExactly(1024, 1024, 1024, 512, 256);
        assertThat(v22.spatialFactor()).isEqualTo(16);
        assertThat(v22.videoChannels()).isEqualTo(3);
        assertThat(v22.clipOutput()).isFalse();
        assertThat(parameters(v22) / 1e6).isCloseTo(555, org.assertj.core.data.Offset.offset(1.0));
    }

    private static long parameters(WanVaeConfig c) {
        return WanVaeWeights.decoderShapes(c).entrySet().stream()
                .filter(e -> e.getKey().startsWith("decoder."))
                .mapToLong(e -> io.sparserender.engine.tensor.Tensor.numel(e.getValue())).sum();
    }
}
