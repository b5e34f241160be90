package io.sparserender.engine.vae;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The full-size decoder configs used by the random-weight generation benchmark match the released sizes. */
class WanVaeFullSizeTest {
    @Test
    void decoderParameterCountsMatchTheReleasedModels() {
        // REFERENCE.md: 2.1 has 73.3 M decoder parameters, 2.2 has 555 M
        assertThat(decoderParameters(WanVaeTiny.fullSize("wan2.1", 16, 1)) / 1e6).isCloseTo(73.3, org.assertj.core.data.Offset.offset(0.5));
        assertThat(decoderParameters(WanVaeTiny.fullSize("wan2.2", 48, 1)) / 1e6).isCloseTo(555, org.assertj.core.data.Offset.offset(5.0));
    }

    private static long decoderParameters(WanVaeConfig c) {
        long n = 0;
        for (int[] s : WanVaeWeights.decoderShapes(c).values()) {
            long m = 1;
            for (int d : s) {
                m *= d;
            }
            n += m;
        }
        return n;
    }
}
