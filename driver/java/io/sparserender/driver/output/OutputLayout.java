package io.sparserender.driver.output;

import java.time.LocalDate;
import java.util.Objects;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.Path;

/**
 * Where a job's outputs live under {@code --out} (DESIGN §5). Paths derive from clip ids and run
 * ids only, never from prompt text.
 *
 * <pre>
 * clips/&lt;clip_id&gt;.mp4      the video
 * clips/&lt;clip_id&gt;.reference.mp4  the dense reference render of a quality-sampled clip (--reference-fraction)
 * clips/&lt;clip_id&gt;.json     the sidecar: spec, timings, statistics; written last, its presence means done
 * stats/clips/dt=YYYY-MM-DD/run_id=R/        Parquet, one row per clip rendered by run R
 * stats/layer_steps/dt=YYYY-MM-DD/run_id=R/  Parquet, one row per clip × layer × step
 * rejected/dt=YYYY-MM-DD/run_id=R/           Parquet, rejected prompt rows with reasons
 * runs/&lt;run_id&gt;.json       run manifest
 * </pre>
 *
 * <p>The statistics tables sit under one folder each (rather than DESIGN's single {@code stats/dt=}) so
 * that Spark's partition discovery reads either table over any date range; each run owns its
 * {@code run_id=} partition and rewrites it whole, so retries and reruns never duplicate rows.
 */
public record OutputLayout(Path root) {
    private static final Pattern CLIP_ID = Pattern.compile("[0-9a-f]{32}");
    private static final Pattern RUN_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    public OutputLayout {
        Objects.requireNonNull(root, "root is null");
    }

    public static OutputLayout of(String uri) {
        return new OutputLayout(new Path(uri));
    }

    public Path clips() {
        return new Path(root, "clips");
    }

    public Path video(String clipId) {
        return new Path(clips(), checkClipId(clipId) + ".mp4");
    }

    /** The dense reference render of a clip sampled for quality, named after the clip (not its own spec). */
    public Path referenceVideo(String clipId) {
        return new Path(clips(), checkClipId(clipId) + ".reference.mp4");
    }

    public Path sidecar(String clipId) {
        return new Path(clips(), checkClipId(clipId) + ".json");
    }

    /** Root of a statistics table ("clips" or "layer_steps"), partitioned by dt and run_id. */
    public Path statsTable(String table) {
        return new Path(new Path(root, "stats"), table);
    }

    /** Root of the rejected-rows table, partitioned by dt and run_id. */
    public Path rejectedTable() {
        return new Path(root, "rejected");
    }

    public Path partition(Path table, LocalDate day, String runId) {
        return new Path(new Path(table, "dt=" + day), "run_id=" + checkRunId(runId));
    }

    public Path manifest(String runId) {
        return new Path(new Path(root, "runs"), checkRunId(runId) + ".json");
    }

    static String checkClipId(String id) {
        if (id == null || !CLIP_ID.matcher(id).matches()) {
            throw new IllegalArgumentException("Invalid clip id '" + id + "': expected 32 lowercase hex characters");
        }
        return id;
    }

    public static String checkRunId(String id) {
        if (id == null || !RUN_ID.matcher(id).matches()) {
            throw new IllegalArgumentException("Invalid run id '" + id
                    + "': use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        return id;
    }
}
