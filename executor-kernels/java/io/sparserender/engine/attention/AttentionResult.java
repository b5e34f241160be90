package io.sparserender.engine.attention;

import io.sparserender.engine.tensor.Tensor;
import java.util.Objects;

/**
 * The output {@code o [B, L, H, D]} of one call, its statistics, the tiles it computed, and the per-tile
 * masses it measured on the way ({@code measured}, per tile the largest over the q-tile's rows of: for
 * a kept tile, its share of the row's computed mass, from the kept row sums (exact for a dense call; for
 * a sparse one an over-estimate by at most 1/recall); for a tile skipped in the loop the upper bound
 * min(1, cols·exp(tilemax − m_final) / l_final); for a tile skipped before QKᵀ the pre-pass's estimate). Pass {@code measured} as the {@link AttentionOptions#prior()} of the next call for the same layer
 * and head: DESIGN §4's previous-step predictor, without a dense pass.
 */
public record AttentionResult(Tensor o, AttentionStats stats, TileMask mask, TileMassTable measured) {
    public AttentionResult {
        Objects.requireNonNull(o, "o is null");
        Objects.requireNonNull(stats, "stats is null");
        Objects.requireNonNull(mask, "mask is null");
        Objects.requireNonNull(measured, "measured is null");
    }
}
