package io.sparserender.engine.attention;

import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * The local-first visit order ({@link VisitOrder#LOCAL}): for each q-tile, kv-tiles sorted by the
 * Euclidean distance between the centroids of their tokens' (frame, row, column) coordinates, nearest
 * first, ties by lower index. Centroids rather than nearest tokens: a tile of a row-major grid is a band
 * of rows, and the centroid ranks bands by how much of them is near. Time and space distances count
 * alike (one frame = one row = one column), as in the 3D RoPE.
 */
final class LocalOrder {
    private LocalOrder() {}

    /** orders[qt] = kv-tile indices nearest first. */
    static int[][] of(VideoGrid grid, int seqLen, Tiling tiling) {
        int nq = tiling.qTiles(seqLen);
        int nk = tiling.kvTiles(seqLen);
        double[][] qc = centroids(grid, seqLen, tiling.br(), nq);
        double[][] kc = centroids(grid, seqLen, tiling.bc(), nk);
        int[][] orders = new int[nq][];
        for (int i = 0; i < nq; i++) {
            double[] c = qc[i];
            double[] dist = new double[nk];
            for (int j = 0; j < nk; j++) {
                double df = c[0] - kc[j][0];
                double dr = c[1] - kc[j][1];
                double dc = c[2] - kc[j][2];
                dist[j] = df * df + dr * dr + dc * dc;
            }
            orders[i] = IntStream.range(0, nk).boxed()
                    .sorted(Comparator.<Integer>comparingDouble(j -> dist[j]).thenComparingInt(j -> j))
                    .mapToInt(Integer::intValue).toArray();
        }
        return orders;
    }

    private static double[][] centroids(VideoGrid grid, int seqLen, int tile, int tiles) {
        double[][] out = new double[tiles][3];
        for (int t = 0; t < tiles; t++) {
            int start = t * tile;
            int n = Math.min(tile, seqLen - start);
            for (int i = start; i < start + n; i++) {
                out[t][0] += grid.frameOf(i);
                out[t][1] += grid.rowOf(i);
                out[t][2] += grid.colOf(i);
            }
            for (int a = 0; a < 3; a++) {
                out[t][a] /= n;
            }
        }
        return out;
    }
}
