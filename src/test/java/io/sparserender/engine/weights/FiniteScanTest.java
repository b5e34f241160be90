package io.sparserender.engine.weights;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The load-time scan for NaN and infinite weights, run in parallel chunks on large tensors, still names the first bad
 * element: one early and one late in a tensor of several chunks, several bad chunks at once, none, a small tensor.
 */
class FiniteScanTest {
    @Test
    void theFirstNonFiniteElementIsFoundWhicheverChunkFindsOneFirst() {
        float[] v = new float[5 * (1 << 16) * 4 + 17]; // several ElementChunks chunks, parallel
        assertThat(FiniteScan.firstNonFinite(v)).isEqualTo(-1);
        v[v.length - 1] = Float.NEGATIVE_INFINITY;
        assertThat(FiniteScan.firstNonFinite(v)).isEqualTo(v.length - 1);
        v[700_000] = Float.NaN;
        v[300_001] = Float.POSITIVE_INFINITY;
        assertThat(FiniteScan.firstNonFinite(v)).isEqualTo(300_001);
        v[3] = Float.NaN;
        assertThat(FiniteScan.firstNonFinite(v)).isEqualTo(3);
        assertThat(FiniteScan.firstNonFinite(new float[] {1, 2, Float.NaN})).isEqualTo(2);
        assertThat(FiniteScan.firstNonFinite(new float[0])).isEqualTo(-1);
    }
}
