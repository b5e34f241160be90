package io.sparserender.engine.model.wan;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.testing.SharedFixtures;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The policy seam sees every self-attention call (and no cross-attention call) with its site, and its result is used. */
class SelfAttentionSeamTest {
    @Test
    void everySelfAttentionGoesThroughThePolicyWithItsSite() {
        CpuOps ops = new CpuOps();
        WanWeights<Tensor> w = WanModelDir.resolve(SharedFixtures.path("wan-dit-h128")).experts().get(0).load(ops);
        List<SelfAttention.Site> sites = new ArrayList<>();
        SelfAttention<Tensor> recording = (o, q, k, v, site) -> {
            sites.add(site);
            assertThat(o.shape(q)).containsExactly(2, 72, 2, 128);
            return SelfAttention.<Tensor>dense().attend(o, q, k, v, site);
        };
        SelfAttention<Tensor> zero = (o, q, k, v, site) -> Tensor.zeros(o.shape(q));
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.path("wan-dit-h128/case-scalar-t.safetensors"))) {
            WanTransformer<Tensor> dit = new WanTransformer<>(ops, w, recording);
            WanTransformer.Prompt<Tensor> p = dit.encodePrompt(f.readTensor("encoder_hidden_states"), false);
            Tensor out = dit.forward(f.readTensor("hidden_states"), Timesteps.of(f.readTensor("timestep")), p, 7);
            assertThat(sites).containsExactly(new SelfAttention.Site(0, 7, 3, 4, 6), new SelfAttention.Site(1, 7, 3, 4, 6));
            assertThat(WanFixtureTest.relL2(out, f.readTensor("expected"))).isLessThan(1e-4);

            WanTransformer<Tensor> ablated = new WanTransformer<>(ops, w, zero);
            Tensor without = ablated.forward(f.readTensor("hidden_states"), Timesteps.of(f.readTensor("timestep")),
                    ablated.encodePrompt(f.readTensor("encoder_hidden_states"), false));
            assertThat(WanFixtureTest.relL2(without, out)).isGreaterThan(1e-3);

            // a prompt belongs to the weights (expert) that encoded it
            WanTransformer<Tensor> other = new WanTransformer<>(ops,
                    WanModelDir.resolve(SharedFixtures.path("wan-dit-h128")).experts().get(0).load(ops), SelfAttention.dense());
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> other.forward(f.readTensor("hidden_states"),
                    Timesteps.of(f.readTensor("timestep")), p)).hasMessageContaining("encoded by another transformer");
        }
    }
}
