package io.sparserender.engine.attention;

import java.util.Locale;
import java.util.Map;

/**
 * What the inputs allow: the oracles' tile sparsity on video-like inputs at a benchmark's shape, before any policy
 * or kernel — every row held to recall r ({@link Oracle#tileSparsity}) and the mean row recall held to r
 * ({@link Oracle#tileSparsityAtMeanRecall}, the benchmark's "measured recall"), from exact float64 masses.
 * With skipped tiles free and visited ones at dense speed, a policy can be at most 1 / (1 − sparsity) times faster
 * than dense at that recall. Plain Java, no GPU; about 7 minutes per input at L = 27,280 with 4 heads on 2 cores.
 *
 * <pre>
 *   java -cp target/classes io.sparserender.engine.attention.OracleStudy [--grid 31,22,40] [--heads 4] [--tile 64] [--br 128]
 *        [--peaks 16,32,64] [--seed 1]
 * </pre>
 * The defaults are {@code sparse-render bench attention}'s first shape and inputs (4 generated heads, seed 1);
 * {@code --tile} is the kv-tile width and, unless {@code --br} is given, the q-tile height.
 */
public final class OracleStudy {
    private static final double[] TARGETS = {0.95, 0.99};

    private OracleStudy() {}

    public static void main(String[] args) {
        Map<String, String> opt = StudyOptions.parse(args);
        VideoGrid grid = VideoGrid.parse(opt.getOrDefault("--grid", "31,22,40"));
        int heads = Integer.parseInt(opt.getOrDefault("--heads", "4"));
        int tile = Integer.parseInt(opt.getOrDefault("--tile", "64"));
        int br = Integer.parseInt(opt.getOrDefault("--br", String.valueOf(tile)));   // q-tile rows (default: square tiles)
        long seed = Long.parseLong(opt.getOrDefault("--seed", "1"));
        System.out.printf(Locale.ROOT, "Video-like inputs: grid %s (L = %d), %d heads × 128, seed %d, %d × %d tiles%n%n", grid,
                grid.tokens(), heads, seed, br, tile);
        System.out.println("| peak | every row ≥ 0.95 | every row ≥ 0.99 | mean recall ≥ 0.95 | mean recall ≥ 0.99 | seconds |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (String peak : opt.getOrDefault("--peaks", "16,32,64").split(",")) {
            long t0 = System.nanoTime();
            QkvInput in = VideoLikeInputs.videoLike(1, grid, heads, 128,
                    VideoLikeInputs.Knobs.defaults().withPeak(Double.parseDouble(peak)), seed);
            DenseReference ref = DenseReference.compute(in, tile);
            StringBuilder row = new StringBuilder("| " + peak + " |");
            for (double r : TARGETS) {
                row.append(' ').append(PolicySweep.pct(Oracle.tileSparsity(ref, br, r))).append(" |");
            }
            for (double r : TARGETS) {
                row.append(' ').append(PolicySweep.pct(Oracle.tileSparsityAtMeanRecall(ref, br, r))).append(" |");
            }
            System.out.println(row.append(String.format(Locale.ROOT, " %.0f |", (System.nanoTime() - t0) * 1e-9)));
        }
    }
}
