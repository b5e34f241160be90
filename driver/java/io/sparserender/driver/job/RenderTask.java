package io.sparserender.driver.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.driver.executor.RenderMetrics;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.output.OutputLayout;
import io.sparserender.driver.output.OutputStore;
import io.sparserender.driver.staging.StagingSettings;
import io.sparserender.engine.pipeline.ClipRenderer;
import io.sparserender.engine.pipeline.ClipSidecar;
import io.sparserender.engine.pipeline.ClipSpec;
import io.sparserender.engine.pipeline.ReferenceRender;
import io.sparserender.engine.pipeline.RenderListener;
import io.sparserender.engine.pipeline.RenderResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.resource.ResourceInformation;

/**
 * Renders one planned partition on an executor. For each clip: skip it if its sidecar exists (a
 * retried task or a rerun), otherwise render into a local work folder, publish the MP4, then the
 * sidecar last (one line per denoising step in the log, and the executor's {@link RenderMetrics}
 * counted). A clip that fails alone is reported and the partition goes on. Input and output
 * elements are JSON strings, so nothing but strings crosses Kryo.
 */
final class RenderTask implements FlatMapFunction<Iterator<String>, String> {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RenderTask.class);

    private final RendererSettings settings;
    private final String outRoot;
    private final Map<String, String> hadoopConf;
    private final String runId;
    private final double referenceFraction;
    private final String referencePolicy;

    /** @param referencePolicy dense attention in the run's canonical policy spelling */
    RenderTask(RendererSettings settings, String outRoot, Map<String, String> hadoopConf, String runId,
               double referenceFraction, String referencePolicy) {
        this.settings = settings;
        this.outRoot = outRoot;
        this.hadoopConf = Map.copyOf(hadoopConf);
        this.runId = runId;
        this.referenceFraction = ReferenceSampling.checkFraction(referenceFraction);
        this.referencePolicy = referencePolicy;
    }

    @Override
    public Iterator<String> call(Iterator<String> partition) throws Exception {
        Configuration conf = new Configuration(false);
        hadoopConf.forEach(conf::set);
        OutputStore store = new OutputStore(new OutputLayout(new org.apache.hadoop.fs.Path(outRoot)), conf);
        ClipRenderer renderer = ExecutorEngine.get(settings, assignedGpu(), StagingSettings.fromSparkConf(sparkConf()), conf);
        RenderMetrics metrics = RenderMetrics.current();
        List<String> results = new ArrayList<>();
        TaskContext task = TaskContext.get();
        while (partition.hasNext()) {
            for (JsonNode spec : JSON.readTree(partition.next())) {
                if (task != null) {
                    task.killTaskIfInterrupted(); // a cancelled or aborted job starts no further clip here
                }
                results.add(renderOne(ClipSpec.fromCanonicalJson(spec.toString()), store, renderer, metrics));
            }
        }
        return results.iterator();
    }

    private String renderOne(ClipSpec spec, OutputStore store, ClipRenderer renderer, RenderMetrics metrics) {
        String id = spec.clipId();
        ObjectNode r = JSON.createObjectNode().put("clip_id", id).put("device", renderer.device());
        if (store.exists(store.layout().sidecar(id))) {
            metrics.skipped();
            return r.put("status", "skipped").toString();
        }
        long t0 = System.nanoTime();
        Path work = null;
        try {
            work = Files.createTempDirectory("sparse-render-" + id);
            boolean sampled = ReferenceSampling.sampled(id, referenceFraction);
            RenderListener progress = (clipId, stage, done, total) -> {
                if (stage.equals("dit")) {
                    metrics.step();
                }
                logProgress(clipId, stage, done, total);
            };
            RenderResult result = sampled ? ReferenceRender.render(renderer, spec, referencePolicy, work, progress)
                    : renderer.render(spec, work, progress);
            byte[] video = Files.readAllBytes(result.video());
            store.writeAtomically(store.layout().video(id), video);
            var referencePath = store.layout().referenceVideo(id);
            String referenceName = null;
            long referenceBytes = 0;
            if (sampled) {
                byte[] reference = Files.readAllBytes(result.reference().video());
                store.writeAtomically(referencePath, reference);
                referenceName = "clips/" + referencePath.getName();
                referenceBytes = reference.length;
            } else {
                store.deleteIfExists(referencePath); // left by an interrupted attempt that sampled this clip
            }
            store.writeAtomically(store.layout().sidecar(id), ClipSidecar.toJson(spec, result, runId,
                    "clips/" + id + ".mp4", video.length, referenceName, referenceBytes, renderer.device(),
                    Instant.now()));
            metrics.rendered(result);
            return r.put("status", "rendered").put("seconds", (System.nanoTime() - t0) / 1e9)
                    .put("tile_sparsity", result.tileSparsity()).put("reference", sampled).toString();
        } catch (RuntimeException | IOException e) {
            if (isFatal(e)) {
                throw e instanceof RuntimeException re ? re : new UncheckedIOException((IOException) e);
            }
            metrics.failed();
            LOG.warn("clip {} failed: {}", id, e.getMessage());
            return r.put("status", "failed").put("error", String.valueOf(e.getMessage()))
                    .put("seconds", (System.nanoTime() - t0) / 1e9).toString();
        } finally {
            deleteQuietly(work);
        }
    }

    /** Storage failures fail the task (Spark retries it); a clip's own failure does not. */
    private static boolean isFatal(Exception e) {
        return e instanceof UncheckedIOException || e instanceof IOException;
    }

    /** This executor's Spark configuration (where to stage models). */
    private static Map<String, String> sparkConf() {
        Map<String, String> m = new java.util.HashMap<>();
        SparkEnv env = SparkEnv.get();
        if (env != null) {
            for (scala.Tuple2<String, String> kv : env.conf().getAll()) {
                m.put(kv._1(), kv._2());
            }
        }
        return m;
    }

    /** One line per denoising step: the progress line of a clip in executor logs and the local console. */
    private static void logProgress(String clipId, String stage, int done, int total) {
        if (stage.equals("dit")) {
            LOG.info("clip {} step {}/{}", clipId.substring(0, 8), done, total);
        } else if (stage.equals("reference dit")) {
            LOG.info("clip {} dense reference step {}/{}", clipId.substring(0, 8), done, total);
        }
    }

    private static int assignedGpu() {
        TaskContext tc = TaskContext.get();
        if (tc == null) {
            return -1;
        }
        scala.Option<ResourceInformation> gpu = tc.resources().get("gpu");
        return gpu.isDefined() && gpu.get().addresses().length > 0 ? Integer.parseInt(gpu.get().addresses()[0]) : -1;
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a leftover temp folder is harmless
        }
    }
}
