package io.sparserender.driver.executor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RendererSettingsTest {
    @Test
    void theCanonicalFormSortsTheOptionsSoEveryJvmHashesTheSameText() {
        // Map.copyOf iterates in an order salted per JVM: with eight keys, the chance that it happens to be sorted is 1/40,320
        Map<String, String> options = new LinkedHashMap<>();
        for (String k : new String[] {"model_revision", "model_cache", "h", "g", "f", "e", "d", "arena_gib"}) {
            options.put(k, k.toUpperCase());
        }
        RendererSettings s = new RendererSettings("F", "cuda", "m", options);
        assertThat(s.canonical()).isEqualTo("F|cuda|m|{arena_gib=ARENA_GIB, d=D, e=E, f=F, g=G, h=H, model_cache=MODEL_CACHE,"
                + " model_revision=MODEL_REVISION}");
    }
}
