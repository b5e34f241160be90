package io.sparserender.driver.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.output.OutputLayout;
import io.sparserender.driver.output.OutputStore;
import io.sparserender.driver.plan.ClipPlanner;
import io.sparserender.driver.prompts.PromptFormat;
import io.sparserender.driver.prompts.PromptSource;
import io.sparserender.driver.prompts.RowValidator;
import io.sparserender.driver.prompts.Validation;
import io.sparserender.engine.pipeline.ClipSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The generate job (DESIGN §5): read and validate prompts, list rejected rows, skip finished clips,
 * plan partitions, render on the executors, build the statistics tables from the sidecars, and write
 * the run manifest. Every step can be repeated: a rerun after any crash leaves each clip exactly once.
 */
public final class GenerateRun {
    private static final Logger LOG = LoggerFactory.getLogger(GenerateRun.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final StructType REJECTED = new StructType()
            .add("source", DataTypes.StringType).add("row", DataTypes.LongType).add("reason", DataTypes.StringType)
            .add("dt", DataTypes.StringType).add("run_id", DataTypes.StringType);

    /**
     * What a run did; also written as the manifest.
     *
     * @param seconds wall time of each phase in order: read (read and validate prompts), dedupe, rejected
     *                (write the rejected table), finished (list finished clips), plan, render, stats, manifest
     */
    public record Summary(String runId, LocalDate day, int rows, int rejected, int duplicateRows, int clips,
                          int alreadyDone, int rendered, int referenceRenders, int failed, long statsClipRows,
                          long statsLayerStepRows, List<String> failures, Map<String, Double> seconds) {}

    /** Spark setting: seconds between progress lines (default 10 in local mode, 60 on a cluster). */
    public static final String PROGRESS_SECONDS = "spark.sparserender.progress.seconds";

    private final SparkSession spark;
    private final GenerateOptions options;

    public GenerateRun(SparkSession spark, GenerateOptions options) {
        this.spark = spark;
        this.options = options;
    }

    public Summary run() {
        Instant started = Instant.now();
        Map<String, Double> seconds = new java.util.LinkedHashMap<>();
        long lap = System.nanoTime();
        Map<String, String> hadoopConf = hadoopConf();
        org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration(false);
        hadoopConf.forEach(conf::set);
        OutputStore store = new OutputStore(OutputLayout.of(options.out()), conf);
        String runId = options.runId() != null ? OutputLayout.checkRunId(options.runId()) : defaultRunId(started);
        LocalDate day = runDay(store, runId, started);

        PromptFormat format = options.format() != null ? options.format() : PromptFormat.ofPath(options.prompts());
        RowValidator validator = new RowValidator(options.defaults(), options.policies());
        describe(runId, "read and validate prompts");
        List<Validation> rows = PromptSource.read(spark, options.prompts(), format, validator);
        lap = lap(seconds, "read", lap);
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("Cannot render " + options.prompts() + ": it holds no prompt rows");
        }
        PromptDeduplicator.Result unique = PromptDeduplicator.dedupe(rows);
        List<ClipSpec> clips = unique.clips();
        if (options.limit() > 0 && clips.size() > options.limit()) {
            clips = clips.subList(0, options.limit());
        }
        lap = lap(seconds, "dedupe", lap);
        describe(runId, "write rejected rows");
        writeRejected(store.layout(), unique.rejected(), runId, day);
        lap = lap(seconds, "rejected", lap);

        Set<String> finished = store.finishedClipIds();
        List<ClipSpec> todo = new ArrayList<>();
        for (ClipSpec c : clips) {
            if (!finished.contains(c.clipId())) {
                todo.add(c);
            }
        }
        LOG.info("Run {}: {} rows, {} rejected, {} clips, {} already done, {} to render", runId, rows.size(),
                unique.rejected().size(), clips.size(), clips.size() - todo.size(), todo.size());
        lap = lap(seconds, "finished", lap);

        List<String> results;
        Set<String> todoIds = new java.util.HashSet<>();
        todo.forEach(c -> todoIds.add(c.clipId()));
        boolean local = spark.sparkContext().isLocal();
        long period = spark.sparkContext().getConf().getLong(PROGRESS_SECONDS, local ? 10 : 60);
        try (RenderProgress progress = new RenderProgress(store, todoIds, java.time.Duration.ofSeconds(period))) {
            results = render(todo, hadoopConf, runId, seconds);
        }
        lap = System.nanoTime();
        List<String> failures = new ArrayList<>();
        int references = 0;
        for (String r : results) {
            JsonNode n = readJson(r);
            if (n.get("status").asText().equals("failed")) {
                failures.add(n.get("clip_id").asText() + ": " + n.get("error").asText());
            } else if (n.get("status").asText().equals("rendered") && n.path("reference").asBoolean(false)) {
                references++;
            }
        }
        List<String> sidecars = new ArrayList<>();
        Set<String> nowFinished = store.finishedClipIds();
        for (ClipSpec c : clips) {
            if (nowFinished.contains(c.clipId())) {
                sidecars.add(store.layout().sidecar(c.clipId()).toString());
            }
        }
        // Rendered = had no sidecar when the run began and has one now. Counted from the sidecars, not the task
        // results: a task attempt lost with its executor may have published clips that its retry then skips.
        int rendered = 0;
        for (ClipSpec c : todo) {
            if (nowFinished.contains(c.clipId())) {
                rendered++;
            }
        }
        describe(runId, "build statistics");
        StatsTables.Written written = StatsTables.write(spark, store.layout(), sidecars, runId, day, hadoopConf);
        spark.sparkContext().setJobDescription(null);
        lap = lap(seconds, "stats", lap);
        Summary summary = new Summary(runId, day, rows.size(), unique.rejected().size(), unique.duplicateRows(),
                clips.size(), clips.size() - todo.size(), rendered, references, failures.size(), written.clips(),
                written.layerSteps(), failures, seconds);
        writeManifest(store, summary, started, lap);
        lap(seconds, "manifest", lap);
        return summary;
    }

    /** Names the Spark jobs that follow (Spark UI, listeners): "sparse-render RUN: what". */
    private void describe(String runId, String what) {
        spark.sparkContext().setJobDescription("sparse-render " + runId + ": " + what);
    }

    /** Records the seconds since {@code since} under {@code phase}; returns now. */
    private static long lap(Map<String, Double> seconds, String phase, long since) {
        long now = System.nanoTime();
        seconds.put(phase, (now - since) / 1e9);
        return now;
    }

    private List<String> render(List<ClipSpec> todo, Map<String, String> hadoopConf, String runId,
                                Map<String, Double> seconds) {
        long lap = System.nanoTime();
        if (todo.isEmpty()) {
            seconds.put("plan", 0.0);
            seconds.put("render", 0.0);
            return List.of();
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        // a clip sampled for quality is rendered twice (its policy, then dense): plan it as such
        double fraction = options.referenceFraction();
        ClipPlanner planner = new ClipPlanner(c -> options.clipSeconds().applyAsDouble(c)
                * (ReferenceSampling.sampled(c.clipId(), fraction) ? 2 : 1), options.targetPartitionSeconds());
        List<ClipPlanner.Partition> plan = planner.plan(todo, jsc.defaultParallelism());
        List<String> slices = new ArrayList<>();
        for (ClipPlanner.Partition p : plan) {
            ArrayNode specs = JSON.createArrayNode();
            for (ClipSpec c : p.clips()) {
                specs.add(readJson(c.canonicalJson()));
            }
            slices.add(specs.toString());
        }
        lap = lap(seconds, "plan", lap);
        RendererSettings settings = options.renderer();
        org.apache.spark.SparkContext sc = spark.sparkContext();
        String group = "sparse-render-" + runId + "-" + java.util.UUID.randomUUID();
        RendererStartGuard guard = new RendererStartGuard(sc, group);
        sc.addSparkListener(guard);
        sc.setJobGroup(group, "sparse-render " + runId + ": render " + todo.size() + " clips in " + plan.size()
                + " partitions", true);
        try {
            List<String> results = jsc.parallelize(slices, slices.size())
                    .mapPartitions(new RenderTask(settings, options.out(), hadoopConf, runId, fraction,
                            options.policies().canonical("dense")))
                    .collect();
            lap(seconds, "render", lap);
            return results;
        } catch (Exception e) { // SparkException is checked in Java's eyes but not declared by collect
            String why = guard.failure(e);
            if (why != null) {
                throw new IllegalStateException("Cannot render run " + runId + ": " + why, e);
            }
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException("Cannot render run " + runId + ": " + e.getMessage(), e);
        } finally {
            sc.clearJobGroup();
            sc.removeSparkListener(guard);
        }
    }

    private void writeRejected(OutputLayout layout, List<Validation.Rejected> rejected, String runId, LocalDate day) {
        List<Row> rows = new ArrayList<>();
        for (Validation.Rejected r : rejected) {
            rows.add(RowFactory.create(r.source(), r.row(), r.reason(), day.toString(), runId));
        }
        StatsTables.overwritePartition(spark.createDataFrame(rows, REJECTED), layout.rejectedTable().toString());
    }

    private void writeManifest(OutputStore store, Summary s, Instant started, long manifestStart) {
        ObjectNode m = JSON.createObjectNode();
        m.put("run_id", s.runId());
        m.put("dt", s.day().toString());
        m.put("started", started.toString());
        m.put("finished", Instant.now().toString());
        m.put("prompts", options.prompts());
        m.put("out", options.out());
        m.put("model", options.defaults().model());
        m.put("backend", options.renderer().backend());
        m.put("default_policy", options.defaults().policy());
        m.put("reference_fraction", options.referenceFraction());
        ObjectNode counts = m.putObject("counts");
        counts.put("rows", s.rows());
        counts.put("rejected", s.rejected());
        counts.put("duplicate_rows", s.duplicateRows());
        counts.put("clips", s.clips());
        counts.put("already_done", s.alreadyDone());
        counts.put("rendered", s.rendered());
        counts.put("reference_renders", s.referenceRenders());
        counts.put("failed", s.failed());
        counts.put("stats_clip_rows", s.statsClipRows());
        counts.put("stats_layer_step_rows", s.statsLayerStepRows());
        ArrayNode f = m.putArray("failures");
        s.failures().forEach(f::add);
        ObjectNode phases = m.putObject("seconds");
        s.seconds().forEach(phases::put);
        phases.put("manifest", (System.nanoTime() - manifestStart) / 1e9);
        ObjectNode versions = m.putObject("versions");
        versions.put("sparse_render", String.valueOf(GenerateRun.class.getPackage().getImplementationVersion()));
        versions.put("spark", spark.version());
        versions.put("java", System.getProperty("java.version"));
        try {
            store.writeAtomically(store.layout().manifest(s.runId()),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The day a run's partitions belong to: from its manifest when it ran before, else today (UTC). */
    private static LocalDate runDay(OutputStore store, String runId, Instant now) {
        var manifest = store.layout().manifest(runId);
        if (store.exists(manifest)) {
            return LocalDate.parse(readJson(new String(store.read(manifest), StandardCharsets.UTF_8)).get("dt").asText());
        }
        return LocalDate.ofInstant(now, ZoneOffset.UTC);
    }

    /** Today's date plus a hash of what was asked, so the same command the same day resumes its run. */
    private String defaultRunId(Instant now) {
        String out = options.out().replaceAll("/+$", "");
        String inputs = options.prompts() + "\n" + out + "\n" + options.defaults() + "\n" + options.renderer().canonical()
                + "\n" + options.limit() + "\n" + options.referenceFraction();
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(inputs.getBytes(StandardCharsets.UTF_8));
            return LocalDate.ofInstant(now, ZoneOffset.UTC) + "-" + HexFormat.of().formatHex(h, 0, 4);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private Map<String, String> hadoopConf() {
        Map<String, String> m = new HashMap<>();
        for (Map.Entry<String, String> e : spark.sparkContext().hadoopConfiguration()) {
            m.put(e.getKey(), e.getValue());
        }
        return m;
    }

    private static JsonNode readJson(String s) {
        try {
            return JSON.readTree(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
