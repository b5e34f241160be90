package io.sparserender.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ElementChunksTest {
    @ParameterizedTest
    @ValueSource(ints = {0, 1, ElementChunks.PARALLEL_MIN - 1, ElementChunks.PARALLEL_MIN, ElementChunks.PARALLEL_MIN + 12_345,
            3 * ElementChunks.PARALLEL_MIN + 1})
    void visitsEveryElementExactlyOnce(int n) {
        AtomicIntegerArray seen = new AtomicIntegerArray(n);
        ElementChunks.forEach(n, (from, to) -> {
            for (int e = from; e < to; e++) {
                seen.incrementAndGet(e);
            }
        });
        for (int e = 0; e < n; e++) {
            assertEquals(1, seen.get(e), "element " + e + " of " + n);
        }
    }
}
