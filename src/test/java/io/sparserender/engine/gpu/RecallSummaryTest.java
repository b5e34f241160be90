package io.sparserender.engine.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The recall statistics the DiT reports per layer and step (CPU): {@link CudaRecall.Summary}'s nearest-rank 5th
 * percentile by selection equals the sorted array's, on lengths and value mixes a call gives (many rows at exactly 1,
 * runs of equal values, a single row); {@link LseRecall#fromLse} is exp of the difference, capped at 1, 0 for a row
 * that kept nothing, NaN for a row with no finite dense log-sum-exp.
 */
class RecallSummaryTest {
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 19, 20, 21, 1000, 109_120})
    void theFifthPercentileIsTheSortedArraysNearestRank(int n) {
        SplittableRandom r = new SplittableRandom(n);
        for (int mix = 0; mix < 3; mix++) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = switch (mix) {
                    case 0 -> (float) r.nextDouble();
                    case 1 -> r.nextInt(4) == 0 ? (float) r.nextDouble() : 1f; // most rows kept everything
                    default -> r.nextInt(5) / 4f; // runs of five values
                };
            }
            float[] sorted = v.clone();
            Arrays.sort(sorted);
            int rank = (int) Math.ceil(0.05 * n);
            double sum = 0;
            for (float x : v) {
                sum += x;
            }
            float[] before = v.clone();
            CudaRecall.Summary s = CudaRecall.Summary.of(v);
            assertThat(s.p05()).as("p05, n %d, mix %d", n, mix).isEqualTo(sorted[Math.max(0, rank - 1)]);
            assertThat(s.min()).isEqualTo(sorted[0]);
            assertThat(s.mean()).isEqualTo(sum / n);
            assertThat(s.rows()).isEqualTo(n);
            assertThat(v).as("the caller's array is left as it was").isEqualTo(before);
            for (int k : new int[] {0, n / 2, n - 1}) {
                assertThat(CudaRecall.Summary.select(v.clone(), k)).as("select %d of %d", k, n).isEqualTo(sorted[k]);
            }
        }
    }

    @Test
    void recallFromLogSumExps() {
        float[] sparse = {1.5f, 2f, Float.NEGATIVE_INFINITY, 3.0000002f, -40f};
        float[] dense = {2f, 2f, 0.25f, 3f, -38f};
        float[] r = LseRecall.fromLse(sparse, dense);
        assertThat(r[0]).isEqualTo((float) Math.exp(-0.5));
        assertThat(r[1]).isEqualTo(1f);
        assertThat(r[2]).as("a row that kept nothing").isEqualTo(0f);
        assertThat(r[3]).as("a rounding above the whole mass").isEqualTo(1f);
        assertThat(r[4]).isEqualTo((float) Math.exp(-2.0));
        assertThat(LseRecall.fromLse(new float[] {0f, Float.NaN, 0f}, new float[] {Float.NaN, 0f, Float.NEGATIVE_INFINITY}))
                .as("non-finite inputs give NaN, not an exception inside the statistics").containsOnly(Float.NaN);
        assertThatThrownBy(() -> LseRecall.fromLse(new float[2], new float[3])).hasMessageContaining("2 sparse");
    }
}
