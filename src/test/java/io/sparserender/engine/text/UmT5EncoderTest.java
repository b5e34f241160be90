package io.sparserender.engine.text;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.testing.SharedFixtures;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** transformers' UMT5EncoderModel on a random 2-layer model, padded batch (fixtures/umt5). */
class UmT5EncoderTest {
    @Test
    void matchesTransformersThroughTheRealLoader() {
        CpuOps ops = new CpuOps();
        TokenBatch tokens;
        float[] expected;
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path("umt5/case-encode.safetensors"))) {
            tokens = new TokenBatch(2, 40, toInts(f.readLongs("input_ids")), toInts(f.readLongs("attention_mask")));
            expected = f.readFloats("expected");
        }
        assertThat(tokens.lengths()).containsExactly(28, 40);
        try (UmT5Encoder<Tensor> encoder = UmT5Encoder.open(SharedFixtures.path("umt5/text_encoder"), ops)) {
            Tensor out = encoder.forward(tokens);
            assertThat(out.shape()).containsExactly(2, 40, 64);
            double err = relL2(out.data(), expected);
            System.out.printf("umT5 encoder vs transformers: relative L2 %.3e (all 80 positions)%n", err);
            assertThat(err).isLessThanOrEqualTo(1e-4);

            List<Tensor> cut = encoder.encode(tokens);
            assertThat(cut.get(0).shape()).containsExactly(28, 64);
            assertThat(cut.get(1).shape()).containsExactly(40, 64);
            assertThat(cut.get(0).data()).containsExactly(Arrays.copyOf(out.data(), 28 * 64));
        }
    }

    @Test
    void forwardCheckEntryReportsTheSameError() {
        UmT5ForwardCheck.Result r = UmT5ForwardCheck.run(SharedFixtures.path("umt5/text_encoder"),
                SharedFixtures.path("umt5/case-encode.safetensors"), new CpuOps());
        assertThat(r.output().shape()).containsExactly(2, 40, 64);
        assertThat(r.relativeL2()).isLessThanOrEqualTo(1e-4);
        assertThat(r.maxAbsError()).isLessThan(1e-4);
    }

    @Test
    void maskChangesTheRealRowsOnlyThroughExcludedKeys() {
        // The same ids with row 0's padding unmasked must give different real-token outputs:
        // a check that the mask reaches the attention at all.
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path("umt5/case-encode.safetensors"));
                UmT5Encoder<Tensor> encoder = UmT5Encoder.open(SharedFixtures.path("umt5/text_encoder"), new CpuOps())) {
            int[] ids = toInts(f.readLongs("input_ids"));
            int[] mask = toInts(f.readLongs("attention_mask"));
            int[] full = new int[mask.length];
            Arrays.fill(full, 1);
            Tensor masked = encoder.forward(new TokenBatch(2, 40, ids, mask));
            Tensor unmasked = encoder.forward(new TokenBatch(2, 40, ids, full));
            float[] a = Arrays.copyOf(masked.data(), 28 * 64);
            float[] b = Arrays.copyOf(unmasked.data(), 28 * 64);
            assertThat(relL2(a, b)).isGreaterThan(1e-3);
            // row 1 has no padding: identical either way
            assertThat(Arrays.copyOfRange(masked.data(), 40 * 64, 80 * 64))
                    .containsExactly(Arrays.copyOfRange(unmasked.data(), 40 * 64, 80 * 64));
        }
    }

    static int[] toInts(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Math.toIntExact(v[i]);
        }
        return out;
    }

    static double relL2(float[] got, float[] want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < want.length; i++) {
            double dlt = got[i] - want[i];
            num += dlt * dlt;
            den += (double) want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }
}
