package io.sparserender.jobs;

import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.executor.WanRendererFactory;
import io.sparserender.driver.job.GenerateJob;
import io.sparserender.driver.job.GenerateOptions;
import io.sparserender.driver.job.GenerateRun;
import io.sparserender.driver.plan.DitCostModel;
import io.sparserender.driver.prompts.ClipDefaults;
import io.sparserender.driver.prompts.PolicyCanonicalizer;
import io.sparserender.driver.prompts.PromptFormat;
import io.sparserender.driver.spark.SparkHadoopConf;
import io.sparserender.driver.staging.ModelSource;
import io.sparserender.driver.staging.RemoteModel;
import io.sparserender.engine.model.wan.WanPreset;
import io.sparserender.engine.pipeline.ModelRepo;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Renders prompts into MP4 files and statistics as a Spark job: under spark-submit on a cluster, or in
 * local mode from bin/sparse-render (the quickstart). Clip fields a row leaves out come from these flags,
 * and flags left out come from the model preset.
 */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Render prompts into MP4 videos plus sparsity statistics (a Spark job; local mode unless "
                + "run by spark-submit).",
            "Outputs under --out: clips/<clip_id>.mp4 and .json (sidecar, written last), stats/, rejected/, runs/."})
final class GenerateCommand implements Callable<Integer> {
    @CommandLine.ArgGroup(multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--prompts", paramLabel = "PATH", description = "Prompt dataset: JSONL, CSV or Parquet on any Hadoop path.")
        String prompts;

        @Option(names = "--prompt", paramLabel = "TEXT", description = "One prompt (instead of --prompts).")
        String prompt;
    }

    @Option(names = "--prompts-format", paramLabel = "jsonl|csv|parquet", description = "Format of --prompts (default: from the extension).")
    String format;

    @Option(names = "--model", required = true, paramLabel = "DIR|URI|PRESET",
            description = {"A diffusers-layout Wan repo folder, or a generated preset (wan-tiny).",
                "A Hadoop URI (s3a://, hdfs://, file://) is copied to each executor host's disk once, checksummed "
                    + "against a checksums.sha256 beside it if there is one (spark.sparserender.stagingDir)."})
    String model;

    @Option(names = "--out", required = true, paramLabel = "URI", description = "Output location (file://, s3a://, hdfs://, or a local path).")
    String out;

    @Option(names = "--negative-prompt", paramLabel = "TEXT", description = "Default negative prompt (default: empty).")
    String negativePrompt = "";

    @Option(names = "--seed", description = "Default seed (default: ${DEFAULT-VALUE}).")
    long seed = 0;

    @Option(names = "--frames", description = "Default frame count, 4k+1 (default: the preset's).")
    Integer frames;

    @Option(names = "--size", paramLabel = "WxH", description = "Default size, e.g. 1280x704 (default: the preset's).")
    String size;

    @Option(names = "--steps", description = "Default denoising steps (default: the preset's).")
    Integer steps;

    @Option(names = "--guidance", description = "Default guidance scale (default: the preset's).")
    Double guidance;

    @Option(names = "--guidance-low", description = "Guidance of the low-noise expert (two-expert models).")
    Double guidanceLow;

    @Option(names = "--shift", description = "Default sigma shift (default: the preset's).")
    Double shift;

    @Option(names = "--policy", paramLabel = "SPEC", description = "Default self-attention policy (default: ${DEFAULT-VALUE}).")
    String policy = "dense";

    @Option(names = "--backend", paramLabel = "cpu|cuda", description = "Where executors render (default: ${DEFAULT-VALUE}).")
    String backend = "cpu";

    @Option(names = "--limit", description = "Render at most N clips (default: all).")
    int limit = 0;

    @Option(names = "--reference-fraction", paramLabel = "F",
            description = {"Also render this fraction of clips (0..1, chosen by clip id: the same clips on every run) "
                + "with dense attention on the same executor, and record PSNR, SSIM, latent relative L2 and flicker "
                + "against it in the sidecar and stats (default: ${DEFAULT-VALUE}). Sampled clips cost two renders."})
    double referenceFraction = 0;

    @Option(names = "--run-id", paramLabel = "ID", description = "Run id (default: date + hash of the inputs, so the same command resumes).")
    String runId;

    @Option(names = "--master", paramLabel = "URL", description = {"Spark master when not under spark-submit (default: ${DEFAULT-VALUE}).",
            "Several GPUs on one host: local-cluster[1,GPUS,MiB] with one executor per GPU (docs/OPERATIONS.md, "
                + "\"Several GPUs per host\")."})
    String master = "local[2]";

    @Option(names = "--conf", paramLabel = "KEY=VALUE", description = {"A Spark setting (repeatable), as for "
            + "spark-submit: e.g. spark.hadoop.fs.s3a.endpoint=..., spark.sparserender.stagingDir=/mnt/nvme/models, "
            + "spark.metrics.conf.*.sink.csv.class=org.apache.spark.metrics.sink.CsvSink."})
    Map<String, String> sparkConf = new java.util.LinkedHashMap<>();

    @Option(names = "--model-cache", paramLabel = "DIR", description = "Where generated models are written (default: ~/.cache/sparse-render/models or $SPARSE_RENDER_MODEL_CACHE).")
    Path modelCache;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!backend.equals("cpu") && !backend.equals("cuda")) {
            throw new UsageException("Invalid --backend '" + backend + "': use cpu or cuda");
        }
        if (!(referenceFraction >= 0 && referenceFraction <= 1)) {
            throw new UsageException("Invalid --reference-fraction " + referenceFraction + ": must be in [0, 1]");
        }
        PromptFormat promptFormat = null;
        if (format != null) {
            try {
                promptFormat = PromptFormat.valueOf(format.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new UsageException("Invalid --prompts-format '" + format + "': use jsonl, csv or parquet");
            }
        }
        for (String key : sparkConf.keySet()) {
            if (!key.startsWith("spark.")) {
                throw new UsageException("Invalid --conf " + key + ": Spark settings start with 'spark.'");
            }
        }
        Path cache = modelCache != null ? modelCache : WanRendererFactory.defaultCache();
        Map<String, String> options = new HashMap<>();
        options.put("model_cache", cache.toAbsolutePath().toString());
        WanPreset preset;
        String revision;
        String rendererModel;
        if (ModelSource.isRemote(model)) {
            RemoteModel remote = RemoteModel.identify(model, SparkHadoopConf.of(submittedConf()));
            preset = remote.preset();
            revision = remote.revision();
            rendererModel = model;
            options.put("model_source_key", remote.sourceKey());
        } else {
            ModelRepo repo = ModelRepo.resolve(model, cache);
            preset = repo.preset();
            revision = repo.revision();
            rendererModel = WanPreset.BUILT_IN.contains(model) ? model : repo.root().toAbsolutePath().toString();
        }
        options.put("model_revision", revision);
        WanPreset.Defaults d = preset.defaults();
        int[] wh = size != null ? parseSize(size) : new int[] {d.width(), d.height()};
        int stride = (preset.vae().equals("wan2.2") ? 16 : 8) * preset.transformer().patchH();
        double gLow = preset.experts().size() > 1
                ? (guidanceLow != null ? guidanceLow : d.guidance().get(d.guidance().size() - 1)) : Double.NaN;
        if (guidanceLow != null && preset.experts().size() == 1) {
            throw new UsageException("Invalid --guidance-low: " + preset.name() + " has one expert");
        }
        ClipDefaults defaults = new ClipDefaults(preset.name(), revision, stride, negativePrompt, seed, wh[0],
                wh[1], frames != null ? frames : d.frames(), steps != null ? steps : d.steps(),
                guidance != null ? guidance : d.guidance().get(0), gLow, shift != null ? shift : d.shift(), policy);
        RendererSettings renderer = new RendererSettings(WanRendererFactory.class.getName(), backend, rendererModel,
                options);

        String prompts = input.prompts;
        Path tmp = null;
        if (input.prompt != null) {
            // named after the prompt, so the default run id (a hash of the inputs) is the same on a rerun
            String line = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode()
                    .put("prompt", input.prompt).toString() + "\n";
            String name = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(line.getBytes(StandardCharsets.UTF_8)), 0, 8);
            tmp = Path.of(System.getProperty("java.io.tmpdir"), "sparse-render-prompt-" + name + ".jsonl");
            Path part = Files.createTempFile(tmp.getParent(), ".sparse-render-prompt", ".tmp");
            Files.writeString(part, line, StandardCharsets.UTF_8);
            Files.move(part, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            prompts = tmp.toString();
        }
        // Path.toUri adds a '/' to folders that exist: normalise so a rerun names the same location (and run id).
        String outUri = out.contains("://") ? out : Path.of(out).toAbsolutePath().normalize().toUri().toString();
        while (outUri.endsWith("/") && !outUri.endsWith(":///")) {
            outUri = outUri.substring(0, outUri.length() - 1);
        }
        DitCostModel cost = new DitCostModel(Math.max(1, preset.transformer().parameterCount()),
                preset.transformer().numLayers(), preset.transformer().dim(), stride, 4,
                backend.equals("cuda") ? 300e12 : 20e9);
        GenerateOptions opts = new GenerateOptions(prompts, promptFormat, outUri, runId, limit, referenceFraction, defaults,
                PolicyCanonicalizer.ENGINE, renderer, cost, 300);

        try {
            GenerateRun.Summary s = GenerateJob.run(opts, master, sparkConf);
            PrintWriter o = spec.commandLine().getOut();
            o.printf("run %s: %d rows, %d rejected, %d clips (%d already done), %d rendered, %d failed%n", s.runId(),
                    s.rows(), s.rejected(), s.clips(), s.alreadyDone(), s.rendered(), s.failed());
            if (referenceFraction > 0) {
                o.printf("quality: %d rendered clips compared with a dense reference render (--reference-fraction %s)%n",
                        s.referenceRenders(), referenceFraction);
            }
            s.failures().forEach(f -> o.println("  failed " + f));
            o.println("outputs: " + outUri + " (clips/, stats/, rejected/, runs/" + s.runId() + ".json)");
            o.flush();
            return s.failed() == 0 ? Main.EXIT_OK : Main.EXIT_FAILURE;
        } finally {
            if (tmp != null) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** Spark settings given to this JVM (spark-submit passes them as system properties) plus --conf. */
    private Map<String, String> submittedConf() {
        Map<String, String> m = new HashMap<>();
        System.getProperties().forEach((k, v) -> {
            if (k.toString().startsWith("spark.")) {
                m.put(k.toString(), v.toString());
            }
        });
        m.putAll(sparkConf);
        return m;
    }

    private static int[] parseSize(String s) {
        String[] p = s.toLowerCase(Locale.ROOT).split("x");
        try {
            if (p.length == 2) {
                return new int[] {Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim())};
            }
        } catch (NumberFormatException e) {
            // fall through to the usage error
        }
        throw new UsageException("Invalid --size '" + s + "': use WIDTHxHEIGHT, e.g. 1280x704");
    }
}
