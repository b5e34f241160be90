package io.sparserender.engine.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ClipSpecTest {
    static ClipSpec spec(String prompt, double guidance) {
        return new ClipSpec(prompt, "", 42, 1280, 704, 121, 50, guidance, Double.NaN, 5.0, "dense", "wan2.2-ti2v-5b", "abc");
    }

    @Test
    void idDependsOnEveryFieldAndOnlyOnTheirValues() {
        ClipSpec a = spec("a cat", 5.0);
        assertThat(a.clipId()).hasSize(32).matches("[0-9a-f]{32}");
        assertThat(spec("a cat", 5.0).clipId()).isEqualTo(a.clipId());
        assertThat(spec("a cat", 5.00000).clipId()).isEqualTo(a.clipId());
        assertThat(spec("a cat ", 5.0).clipId()).isNotEqualTo(a.clipId());
        assertThat(spec("a cat", 5.5).clipId()).isNotEqualTo(a.clipId());
        ClipSpec seed = new ClipSpec("a cat", "", 43, 1280, 704, 121, 50, 5.0, Double.NaN, 5.0, "dense", "wan2.2-ti2v-5b", "abc");
        assertThat(seed.clipId()).isNotEqualTo(a.clipId());
        ClipSpec low = new ClipSpec("a cat", "", 42, 1280, 704, 121, 50, 5.0, 3.0, 5.0, "dense", "wan2.2-ti2v-5b", "abc");
        assertThat(low.clipId()).isNotEqualTo(a.clipId());
    }

    @Test
    void canonicalJsonRoundTrips() {
        ClipSpec a = spec("a \"cat\" \u00e9\n", 4.25);
        assertThat(ClipSpec.fromCanonicalJson(a.canonicalJson())).isEqualTo(a);
        ClipSpec low = new ClipSpec("x", "y", 1, 16, 32, 5, 2, 4.0, 3.0, 12.0, "dense", "m", "r");
        assertThat(ClipSpec.fromCanonicalJson(low.canonicalJson())).isEqualTo(low);
    }

    @Test
    void canonicalJsonIsStableAndEscapesText() {
        ClipSpec s = spec("say \"hi\"\n<script>", 5.0);
        assertThat(s.canonicalJson()).isEqualTo("{\"frames\":121,\"guidance\":\"5\",\"guidance_low\":\"none\",\"height\":704,"
                + "\"model\":\"wan2.2-ti2v-5b\",\"model_revision\":\"abc\",\"negative_prompt\":\"\",\"policy\":\"dense\","
                + "\"prompt\":\"say \\\"hi\\\"\\n<script>\",\"seed\":42,\"shift\":\"5\",\"steps\":50,\"width\":1280}");
    }
}
