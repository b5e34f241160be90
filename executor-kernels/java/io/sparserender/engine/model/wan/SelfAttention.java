package io.sparserender.engine.model.wan;

import io.sparserender.engine.ops.Ops;

/**
 * The seam where the DiT's self-attention policy plugs in (dense here; the sparse policies of
 * {@code engine.attention} implement this at merge). Cross-attention never goes through it: it stays
 * dense.
 */
@FunctionalInterface
public interface SelfAttention<T> {
    /**
     * Attends q to k, v, all [B, L, H, D] after RoPE, scale 1/√D; returns [B, L, H, D].
     *
     * @param site where in the model this call is (layer, token grid)
     */
    T attend(Ops<T> ops, T q, T k, T v, Site site);

    /**
     * Where a self-attention call happens.
     *
     * @param layer  block index
     * @param step   denoising step index given to {@link WanTransformer#forward(Object, TimestepEmbedding.Timesteps,
     *               WanTransformer.Prompt, int)}, or −1 when the caller gave none
     * @param frames token grid frames (latent frames / patch t)
     * @param height token grid rows
     * @param width  token grid columns; tokens are row-major over (frame, row, column)
     */
    record Site(int layer, int step, int frames, int height, int width) {}

    /** Dense softmax attention through {@link Ops#attention}. */
    static <T> SelfAttention<T> dense() {
        return (ops, q, k, v, site) -> ops.attention(q, k, v, (float) (1.0 / Math.sqrt(ops.shape(q)[3])), null, null);
    }
}
