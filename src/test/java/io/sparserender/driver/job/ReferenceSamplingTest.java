package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Which clips --reference-fraction samples: a pure, documented function of the clip id. */
class ReferenceSamplingTest {
    private static List<String> ids(int n) {
        Random rnd = new Random(11);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ids.add(String.format("%016x%016x", rnd.nextLong(), rnd.nextLong()));
        }
        return ids;
    }

    @Test
    void positionIsTheDocumentedHashSoAnyMachineAgrees() {
        // Python: int.from_bytes(sha256(b"sparse-render reference\n" + id).digest()[:8], "big") >> 11) / 2**53
        assertThat(ReferenceSampling.position("0".repeat(32))).isEqualTo(0.4313347375790977);
        assertThat(ReferenceSampling.position("f".repeat(32))).isEqualTo(0.556564476950299);
        assertThat(ReferenceSampling.sampled("0".repeat(32), 0.44)).isTrue();
        assertThat(ReferenceSampling.sampled("0".repeat(32), 0.43)).isFalse();
    }

    @Test
    void samplesAboutTheFractionAsNestedSets() {
        List<String> ids = ids(20_000);
        for (double f : new double[] {0.05, 0.3, 0.5}) {
            long n = ids.stream().filter(id -> ReferenceSampling.sampled(id, f)).count();
            assertThat(n / 20_000.0).as("fraction %s", f).isCloseTo(f, within(0.015));
        }
        // what a fraction samples, any larger fraction samples too
        assertThat(ids).filteredOn(id -> ReferenceSampling.sampled(id, 0.1))
                .allMatch(id -> ReferenceSampling.sampled(id, 0.4));
        assertThat(ids).allMatch(id -> ReferenceSampling.sampled(id, 1.0)).noneMatch(id -> ReferenceSampling.sampled(id, 0));
    }

    @Test
    void fractionsOutsideZeroToOneNameTheFlag() {
        for (double bad : new double[] {-0.1, 1.5, Double.NaN}) {
            assertThatThrownBy(() -> ReferenceSampling.checkFraction(bad))
                    .hasMessage("Invalid --reference-fraction " + bad + ": must be in [0, 1]");
        }
    }
}
