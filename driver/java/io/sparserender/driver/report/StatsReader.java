package io.sparserender.driver.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.driver.output.OutputLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Reads the statistics tables of a generate output root over a date range. Only the {@code dt=}/
 * {@code run_id=} folders in range are listed and handed to Spark (with the table as basePath, so the
 * partition columns still come from the paths): months of nightly partitions cost one directory listing,
 * and files outside the range are never opened. The schemas are given, not inferred, so no footer of an
 * unrelated file is read either; columns a table does not have yet read as null.
 */
final class StatsReader {
    /** One row per clip, as written by the generate job; the quality columns (psnr … reference_video) are set
     * only for clips sampled by {@code --reference-fraction} (psnr +∞ when identical to the dense reference),
     * null otherwise and in partitions written before they existed. */
    static final StructType CLIPS = new StructType()
            .add("clip_id", DataTypes.StringType).add("prompt", DataTypes.StringType)
            .add("model", DataTypes.StringType).add("policy", DataTypes.StringType).add("seed", DataTypes.LongType)
            .add("width", DataTypes.IntegerType).add("height", DataTypes.IntegerType)
            .add("frames", DataTypes.IntegerType).add("steps", DataTypes.IntegerType)
            .add("tile_sparsity", DataTypes.DoubleType).add("compute_saved", DataTypes.DoubleType)
            .add("peak_device_bytes", DataTypes.LongType)
            .add("stage_seconds", DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType))
            .add("device", DataTypes.StringType).add("video", DataTypes.StringType)
            .add("video_bytes", DataTypes.LongType).add("finished", DataTypes.StringType)
            .add("psnr", DataTypes.DoubleType).add("ssim", DataTypes.DoubleType)
            .add("latent_rel_l2", DataTypes.DoubleType).add("flicker", DataTypes.DoubleType)
            .add("flicker_reference", DataTypes.DoubleType).add("reference_video", DataTypes.StringType)
            .add("dt", DataTypes.StringType).add("run_id", DataTypes.StringType);

    static final StructType LAYER_STEPS = new StructType()
            .add("clip_id", DataTypes.StringType).add("model", DataTypes.StringType)
            .add("policy", DataTypes.StringType).add("step", DataTypes.IntegerType)
            .add("layer", DataTypes.IntegerType).add("tile_sparsity", DataTypes.DoubleType)
            .add("compute_saved", DataTypes.DoubleType).add("recall_mean", DataTypes.DoubleType)
            .add("recall_p05", DataTypes.DoubleType).add("rel_l2_vs_dense", DataTypes.DoubleType)
            .add("dt", DataTypes.StringType).add("run_id", DataTypes.StringType);

    static final StructType MANIFESTS = new StructType()
            .add("run_id", DataTypes.StringType).add("manifest_dt", DataTypes.StringType)
            .add("started", DataTypes.StringType).add("finished", DataTypes.StringType)
            .add("wall_seconds", DataTypes.DoubleType).add("manifest_model", DataTypes.StringType)
            .add("backend", DataTypes.StringType).add("rows", DataTypes.LongType)
            .add("rejected", DataTypes.LongType).add("clips", DataTypes.LongType)
            .add("already_done", DataTypes.LongType).add("rendered", DataTypes.LongType)
            .add("failed", DataTypes.LongType).add("failures", DataTypes.createArrayType(DataTypes.StringType));

    private static final ObjectMapper JSON = new ObjectMapper();

    private final SparkSession spark;
    private final OutputLayout layout;
    private final ReportOptions options;
    private final FileSystem fs;

    StatsReader(SparkSession spark, ReportOptions options) {
        this.spark = spark;
        this.options = options;
        this.layout = OutputLayout.of(options.stats());
        try {
            this.fs = layout.root().getFileSystem(spark.sparkContext().hadoopConfiguration());
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot open --stats " + options.stats() + ": " + e.getMessage(), e);
        }
    }

    OutputLayout layout() {
        return layout;
    }

    /**
     * The partition folders of a statistics table in range, sorted (possibly none: a run whose clips all
     * failed writes no partition). A missing clips table means --stats is not a generate output.
     */
    List<Path> partitions(String table) {
        Path root = layout.statsTable(table);
        List<Path> found = new ArrayList<>();
        try {
            if (!fs.exists(root)) {
                if (table.equals("clips")) {
                    throw new IllegalArgumentException("Cannot report: no statistics table at " + root
                            + " (--stats must be the --out of generate runs)");
                }
                return found;
            }
            for (FileStatus day : sorted(fs.listStatus(root))) {
                String n = day.getPath().getName();
                if (!day.isDirectory() || !n.startsWith("dt=")) {
                    continue;
                }
                LocalDate d;
                try {
                    d = LocalDate.parse(n.substring(3));
                } catch (DateTimeParseException e) {
                    throw new IllegalArgumentException("Invalid partition folder " + day.getPath() + ": dt is not a date");
                }
                if (!options.inRange(d)) {
                    continue;
                }
                for (FileStatus run : sorted(fs.listStatus(day.getPath()))) {
                    String r = run.getPath().getName();
                    if (run.isDirectory() && r.startsWith("run_id=")
                            && (options.runs().isEmpty() || options.runs().contains(r.substring(7)))) {
                        found.add(run.getPath());
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + root + ": " + e.getMessage(), e);
        }
        return found;
    }

    /** The error for a range holding neither statistics nor run manifests. */
    IllegalArgumentException nothingInRange() {
        return new IllegalArgumentException("Cannot report: " + layout.statsTable("clips")
                + " has no partitions in range (" + options.rangeText() + ") and no run manifest is in it either");
    }

    /** The given partition folders of a table, or an empty table with its schema when there are none. */
    Dataset<Row> read(String table, List<Path> partitions, StructType schema) {
        if (partitions.isEmpty()) {
            return spark.createDataFrame(List.of(), schema);
        }
        String[] paths = partitions.stream().map(Path::toString).toArray(String[]::new);
        return spark.read().schema(schema).option("basePath", layout.statsTable(table).toString()).parquet(paths);
    }

    /** Run ids present in a list of partition folders. */
    static List<String> runIds(List<Path> partitions) {
        return partitions.stream().map(p -> p.getName().substring(7)).distinct().sorted().toList();
    }

    /**
     * The manifests of the runs in range: those named by --runs or whose partitions were selected, plus runs
     * of days in range that wrote no statistics (every clip failed).
     */
    Dataset<Row> manifests(List<String> runsWithStats) {
        Path dir = new Path(layout.root(), "runs");
        List<Row> rows = new ArrayList<>();
        try {
            if (fs.exists(dir)) {
                for (FileStatus f : sorted(fs.listStatus(dir))) {
                    String n = f.getPath().getName();
                    if (!f.isFile() || !n.endsWith(".json") || n.startsWith(".")) {
                        continue;
                    }
                    String runId = n.substring(0, n.length() - 5);
                    if (!options.runs().isEmpty() && !options.runs().contains(runId)) {
                        continue;
                    }
                    JsonNode m = readManifest(f.getPath());
                    LocalDate day;
                    try {
                        day = LocalDate.parse(m.path("dt").asText());
                    } catch (DateTimeParseException e) {
                        throw new IllegalArgumentException("Invalid run manifest " + f.getPath() + ": dt '"
                                + m.path("dt").asText() + "' is not a date");
                    }
                    if (options.inRange(day) || runsWithStats.contains(runId)) {
                        rows.add(manifestRow(runId, day, m));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + dir + ": " + e.getMessage(), e);
        }
        return spark.createDataFrame(rows, MANIFESTS);
    }

    private JsonNode readManifest(Path p) {
        try (var in = fs.open(p)) {
            JsonNode m = JSON.readTree(in);
            if (!m.path("dt").isTextual() || !m.path("counts").isObject()) {
                throw new IllegalArgumentException("Invalid run manifest " + p + ": no dt or counts");
            }
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read run manifest " + p + ": " + e.getMessage(), e);
        }
    }

    private static Row manifestRow(String runId, LocalDate day, JsonNode m) {
        JsonNode c = m.get("counts");
        String started = m.path("started").asText(null);
        String finished = m.path("finished").asText(null);
        Double wall = null;
        if (started != null && finished != null) {
            try {
                wall = java.time.Duration.between(java.time.Instant.parse(started), java.time.Instant.parse(finished))
                        .toMillis() / 1000.0;
            } catch (java.time.format.DateTimeParseException e) {
                wall = null;
            }
        }
        List<String> failures = new ArrayList<>();
        m.path("failures").forEach(f -> failures.add(f.asText()));
        return RowFactory.create(runId, day.toString(), started, finished, wall, m.path("model").asText(null),
                m.path("backend").asText(null), count(c, "rows"), count(c, "rejected"), count(c, "clips"),
                count(c, "already_done"), count(c, "rendered"), count(c, "failed"),
                failures);
    }

    private static Long count(JsonNode counts, String name) {
        return counts.has(name) ? counts.get(name).asLong() : null;
    }

    private static List<FileStatus> sorted(FileStatus[] s) {
        List<FileStatus> l = new ArrayList<>(Arrays.asList(s));
        l.sort(Comparator.comparing(f -> f.getPath().getName()));
        return l;
    }
}
