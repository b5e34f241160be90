package io.sparserender.engine.attention;

/**
 * Per-call context a policy may need beyond Q, K and V.
 *
 * @param grid  the (frames, rows, columns) token grid; required by order=local, else may be null
 * @param prior measured per-tile masses of an earlier call with the same shape and tiling (e.g. the
 *              previous denoising step of this layer), used instead of the mean-pooled estimate by
 *              every policy that estimates (topk, topp, hybrid, order=estimate); may be null. Built by
 *              {@link DenseReference#tileMassTable(int)}.
 */
public record AttentionOptions(VideoGrid grid, TileMassTable prior) {
    public static final AttentionOptions NONE = new AttentionOptions(null, null);

    public static AttentionOptions withGrid(VideoGrid grid) {
        return new AttentionOptions(grid, null);
    }
}
