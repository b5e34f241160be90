package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class WanKeysTest {
    @Test
    void originalNamesMapToDiffusersNamesAndBack() {
        assertThat(WanKeys.canonical("blocks.7.norm3.bias")).isEqualTo("blocks.7.norm2.bias");
        assertThat(WanKeys.canonical("blocks.7.self_attn.o.weight")).isEqualTo("blocks.7.attn1.to_out.0.weight");
        assertThat(WanKeys.canonical("blocks.12.cross_attn.norm_k.weight")).isEqualTo("blocks.12.attn2.norm_k.weight");
        assertThat(WanKeys.canonical("blocks.0.ffn.0.weight")).isEqualTo("blocks.0.ffn.net.0.proj.weight");
        assertThat(WanKeys.canonical("blocks.0.modulation")).isEqualTo("blocks.0.scale_shift_table");
        assertThat(WanKeys.canonical("head.modulation")).isEqualTo("scale_shift_table");
        assertThat(WanKeys.canonical("model.diffusion_model.head.head.bias")).isEqualTo("proj_out.bias");
        assertThat(WanKeys.canonical("time_projection.1.weight")).isEqualTo("condition_embedder.time_proj.weight");
        assertThat(WanKeys.canonical("text_embedding.2.bias")).isEqualTo("condition_embedder.text_embedder.linear_2.bias");
        assertThat(WanKeys.canonical("blocks.0.attn1.to_q.weight")).isEqualTo("blocks.0.attn1.to_q.weight");
        WanConfig c = WanPreset.load(WanPresetTest.MODELS, "wan2.2-t2v-a14b").transformer();
        for (WanKeys.Expected e : WanKeys.expected(c)) {
            String orig = WanKeys.toOriginal(e.name());
            assertThat(WanKeys.canonical(orig)).as(orig).isEqualTo(e.name());
            assertThat(WanKeys.canonical(WanKeys.SINGLE_FILE_PREFIX + orig)).isEqualTo(e.name());
        }
    }

    @Test
    void originalConfigOfTheReleased5bParsesToThePreset() throws Exception {
        String json = "{\"_class_name\": \"WanModel\", \"_diffusers_version\": \"0.33.0\", \"dim\": 3072, \"eps\": 1e-06,"
                + " \"ffn_dim\": 14336, \"freq_dim\": 256, \"in_dim\": 48, \"model_type\": \"ti2v\", \"num_heads\": 24,"
                + " \"num_layers\": 30, \"out_dim\": 48, \"text_len\": 512}";
        WanConfig c = WanConfig.fromJson(new ObjectMapper().readTree(json));
        assertThat(c).isEqualTo(WanPreset.load(WanPresetTest.MODELS, "wan2.2-ti2v-5b").transformer());
        assertThat(WanConfig.fromJson(c.toOriginalJson("ti2v"))).isEqualTo(c);
        assertThat(WanConfig.fromJson(c.toDiffusersJson())).isEqualTo(c);
    }

    @Test
    void unsupportedConfigsAreRejectedByKey() throws Exception {
        ObjectMapper m = new ObjectMapper();
        assertThatThrownBy(() -> WanConfig.fromJson(m.readTree("{\"num_attention_heads\": 2, \"attention_head_dim\": 64,"
                + " \"num_layers\": 1, \"ffn_dim\": 8, \"in_channels\": 16, \"image_dim\": 1280}")))
                .hasMessageContaining("image_dim");
        assertThatThrownBy(() -> WanConfig.fromJson(m.readTree("{\"num_attention_heads\": 2, \"attention_head_dim\": 64,"
                + " \"in_channels\": 16, \"ffn_dim\": 8}")))
                .hasMessage("key 'num_layers' is missing");
        assertThatThrownBy(() -> WanConfig.fromJson(m.readTree("{\"foo\": 1}"))).hasMessageContaining("neither");
    }
}
