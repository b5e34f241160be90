package io.sparserender.engine.attention;

import io.sparserender.engine.tensor.Tensor;
import java.util.Objects;

/** The output {@code o [B, L, H, D]} of one call, its statistics and the tiles it computed. */
public record AttentionResult(Tensor o, AttentionStats stats, TileMask mask) {
    public AttentionResult {
        Objects.requireNonNull(o, "o is null");
        Objects.requireNonNull(stats, "stats is null");
        Objects.requireNonNull(mask, "mask is null");
    }
}
