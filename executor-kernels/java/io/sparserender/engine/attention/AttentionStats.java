package io.sparserender.engine.attention;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Statistics of one attention call. Always: tile counts, {@code tile_sparsity} = skipped tiles / all
 * tiles (both kinds of skip), {@code compute_saved} = QKᵀ and PV FLOPs avoided / dense QKᵀ and PV FLOPs
 * (a tile of n rows and c keys costs 2·n·c·D for QKᵀ and as much for PV; an in-loop skip saves the PV
 * half, a pre-pass skip both; partial tiles count their real size; the pre-pass estimate is not
 * charged, it is about 1/(2·br·bc) of dense). On request, from one dense float64 pass
 * ({@link ExactRecall}): per-row recall (mass of computed entries / all mass) as mean, 5th percentile
 * (nearest rank) and minimum over every (batch, row, head), and {@code rel_l2_vs_dense} =
 * ‖o − o_dense‖₂ / ‖o_dense‖₂ over the whole tensor; null when not asked for.
 */
public record AttentionStats(
        String policy, int batch, int seqLen, int heads, int headDim, int br, int bc,
        long tilesTotal, long tilesSkippedInLoop, long tilesSkippedBeforeQk,
        double tileSparsity, double computeSaved,
        Double recallMean, Double recallP05, Double recallMin, Double relL2VsDense) {

    public AttentionStats {
        Objects.requireNonNull(policy, "policy is null");
    }

    /** The same statistics with the exact part filled in. */
    public AttentionStats withExact(double mean, double p05, double min, double relL2) {
        return new AttentionStats(policy, batch, seqLen, heads, headDim, br, bc, tilesTotal, tilesSkippedInLoop,
                tilesSkippedBeforeQk, tileSparsity, computeSaved, mean, p05, min, relL2);
    }

    public boolean hasExact() {
        return recallMean != null;
    }

    /** The fields under their JSON names (snake_case), in a stable order; exact fields null when absent. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("policy", policy);
        m.put("batch", batch);
        m.put("seq_len", seqLen);
        m.put("heads", heads);
        m.put("head_dim", headDim);
        m.put("br", br);
        m.put("bc", bc);
        m.put("tiles_total", tilesTotal);
        m.put("tiles_skipped_in_loop", tilesSkippedInLoop);
        m.put("tiles_skipped_before_qk", tilesSkippedBeforeQk);
        m.put("tile_sparsity", tileSparsity);
        m.put("compute_saved", computeSaved);
        m.put("recall_mean", recallMean);
        m.put("recall_p05", recallP05);
        m.put("recall_min", recallMin);
        m.put("rel_l2_vs_dense", relL2VsDense);
        return m;
    }
}
