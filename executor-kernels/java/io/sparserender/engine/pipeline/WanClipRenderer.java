package io.sparserender.engine.pipeline;

import io.sparserender.engine.model.wan.SelfAttention;
import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.model.wan.WanModelDir;
import io.sparserender.engine.model.wan.WanPreset;
import io.sparserender.engine.model.wan.WanTransformer;
import io.sparserender.engine.ops.MemoryRegion;
import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.ops.Parkable;
import io.sparserender.engine.ops.SwapSlot;
import io.sparserender.engine.quality.CapturedRender;
import io.sparserender.engine.quality.RawFrames;
import io.sparserender.engine.sampler.ExpertSchedule;
import io.sparserender.engine.sampler.NoiseGenerator;
import io.sparserender.engine.sampler.SamplingLoop;
import io.sparserender.engine.sampler.SigmaSchedule;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.text.PromptEncoder;
import io.sparserender.engine.vae.WanVaeDecoder;
import io.sparserender.engine.video.LatentsToMp4;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prompt to MP4 with a Wan 2.x model on one backend: umT5 encodes the prompt and the negative prompt,
 * the DiT (one or two experts) predicts the flow for both as one batch of 2 at every UniPC step on
 * the official sigma grid, classifier-free guidance combines them in float32, and the VAE decodes the
 * latents chunk by chunk straight into the H.264 writer. Initial noise is Philox keyed by the clip
 * seed, so a clip is bit-identical on any machine and any retry. One clip at a time per renderer, as
 * on a GPU: concurrent task threads queue.
 */
public final class WanClipRenderer<T> implements ClipRenderer {
    private static final Logger LOG = LoggerFactory.getLogger(WanClipRenderer.class);

    private final Ops<T> ops;
    private final ModelRepo repo;
    private final Parkable<PromptEncoder<T>> text;
    private final List<WanModelDir.Expert> expertDirs;
    /** One expert's weights in device memory at a time where the host can pin the others (A14B on an 80 GB card). */
    private final SwapSlot<io.sparserender.engine.model.wan.WanWeights<T>> experts;
    private final WanVaeDecoder<T> vae;
    private final Function<String, SelfAttention<T>> policies;
    private final String device;
    private final long memoryBudgetBytes;

    /** As below, with the whole JVM heap as the memory budget. */
    public WanClipRenderer(Ops<T> ops, ModelRepo repo, Function<String, SelfAttention<T>> policies, String device) {
        this(ops, repo, policies, device, ops.backend().equals("cpu") ? Runtime.getRuntime().maxMemory() : Long.MAX_VALUE);
    }

    /**
     * @param policies          builds the self-attention for a canonical policy spec ("dense" at least)
     * @param memoryBudgetBytes a clip whose estimated working set ({@link ClipFootprint}) exceeds this is refused
     *                          before it starts
     */
    public WanClipRenderer(Ops<T> ops, ModelRepo repo, Function<String, SelfAttention<T>> policies, String device,
                           long memoryBudgetBytes) {
        if (memoryBudgetBytes <= 0) {
            throw new IllegalArgumentException("Invalid memory budget " + memoryBudgetBytes + " bytes: must be positive");
        }
        this.ops = ops;
        this.repo = repo;
        this.policies = policies;
        this.device = device;
        this.memoryBudgetBytes = memoryBudgetBytes;
        long t0 = System.nanoTime();
        WanModelDir dir = WanModelDir.resolve(repo.root());
        this.expertDirs = dir.experts();
        List<java.util.function.Supplier<io.sparserender.engine.model.wan.WanWeights<T>>> loads = new ArrayList<>();
        for (WanModelDir.Expert e : expertDirs) {
            loads.add(() -> e.load(ops));
        }
        this.experts = ops.swapSlot(loads);
        this.vae = WanVaeDecoder.load(ops, repo.root().resolve("vae"));
        // Loaded last, so its weights are the top of device memory and can wait on the host between prompts.
        this.text = ops.parkable(() -> PromptEncoder.open(repo.root(), ops));
        // Its host copy is made now, as part of loading: the first park would pin host memory for its bytes and copy them
        // there (≈ 4 s for umT5-XXL's 9.3 GiB), a one-time cost that would otherwise land in the first clip.
        ops.run(() -> {
            text.prepareToPark();
            return null;
        });
        LOG.info("Loaded {} ({} expert(s), revision {}) on {} in {} ms", repo.preset().name(), experts.size(),
                repo.revision(), device, (System.nanoTime() - t0) / 1_000_000);
    }

    public ModelRepo repo() {
        return repo;
    }

    @Override
    public String device() {
        return device;
    }

    /**
     * Renders one clip on the backend's own thread (the GPU worker on CUDA), with every tensor of the clip in one
     * memory region freed at the end and each denoising step's tensors in a region of their own. A clip that
     * cannot fit the memory budget is refused before any work, and one that runs out of memory anyway fails
     * alone ({@link ClipFailedException}, sizes named), so the next clip starts clean.
     */
    @Override
    public synchronized RenderResult render(ClipSpec spec, Path workDir, RenderListener listener, boolean capture) {
        ClipFootprint footprint = ClipFootprint.of(repo.preset().transformer(), vae.config(), spec);
        String refusal = footprint.refusal(memoryBudgetBytes, ops.backend().equals("cpu"));
        if (refusal != null) {
            throw new ClipFailedException("Cannot render clip " + spec.clipId() + " at " + spec.width() + "x"
                    + spec.height() + ", " + spec.frames() + " frames: " + refusal);
        }
        try {
            return ops.run(() -> {
                Map<String, Long> peaks = new LinkedHashMap<>();
                long t0 = System.nanoTime();
                listener.progress(spec.clipId(), "text", 0, 1);
                ops.resetMemoryPeak();
                Tensor context = encodePrompts(spec);
                peaks.put("text", ops.memoryPeak());
                double textSeconds = lap(t0);
                if (!text.park()) { // the text encoder's device memory goes to the DiT and the VAE until the next prompt
                    LOG.warn("The text encoder stays in device memory: other memory above it is in use");
                }
                try (MemoryRegion<T> clip = ops.region()) {
                    return renderInRegion(spec, workDir, listener, capture, context, t0, textSeconds, peaks);
                }
            });
        } catch (OutOfMemoryError | io.sparserender.engine.gpu.GpuException.OutOfDeviceMemory e) {
            // the clip's memory region has been closed on the way out: the next clip starts from the same memory
            throw new ClipFailedException("Cannot render clip " + spec.clipId() + " at " + spec.width() + "x"
                    + spec.height() + ", " + spec.frames() + " frames: out of " + (e instanceof OutOfMemoryError ? "host" : "device")
                    + " memory (" + e.getMessage() + "); estimated peak " + ClipFootprint.mib(footprint.peakBytes())
                    + ", largest tensor " + footprint.largest() + ", budget " + ClipFootprint.mib(memoryBudgetBytes), e);
        }
    }

    /** The prompt and the negative prompt through umT5, padded to the text length: [2, textLen, D] on the host. */
    private Tensor encodePrompts(ClipSpec spec) {
        PromptEncoder<T> encoder = text.get(); // unparked before the region opens, so closing it keeps the weights
        try (MemoryRegion<T> region = ops.region()) {
            List<T> encoded = encoder.encode(List.of(spec.prompt(), spec.negativePrompt()));
            return ops.toHost(ops.concat(0, List.of(padded(encoded.get(0)), padded(encoded.get(1)))));
        }
    }

    private RenderResult renderInRegion(ClipSpec spec, Path workDir, RenderListener listener, boolean capture, Tensor contextHost,
                                        long t0, double textSeconds, Map<String, Long> peaks) {
        WanPreset preset = repo.preset();
        String id = spec.clipId();
        Map<String, Double> seconds = new LinkedHashMap<>();
        seconds.put("text", textSeconds);

        long t1 = System.nanoTime();
        double swapSecondsBefore = experts.swapSeconds();
        ops.resetMemoryPeak();
        T context = ops.fromHost(contextHost);
        AttentionRecorder<T> attention = new AttentionRecorder<>(policies.apply(spec.policy()));
        // Each expert's model and prompt (cross-attention keys and values) are made when the loop first uses it,
        // so experts sharing device memory swap once per switch (high-noise, then low-noise: once per clip each).
        List<WanTransformer<T>> models = new ArrayList<>(java.util.Collections.nCopies(experts.size(), null));
        List<WanTransformer.Prompt<T>> prompts = new ArrayList<>(java.util.Collections.nCopies(experts.size(), null));
        int vaeStride = vae.config().spatialFactor();
        int latentFrames = (spec.frames() - 1) / vae.config().temporalFactor() + 1;
        int channels = preset.transformer().inChannels();
        int[] latentShape = {channels, latentFrames, spec.height() / vaeStride, spec.width() / vaeStride};
        Tensor noise = NoiseGenerator.normal(spec.seed(), latentShape);
        SigmaSchedule schedule = SigmaSchedule.wanOfficial(spec.steps(), spec.shift());
        ExpertSchedule expertSchedule = experts.size() == 1 ? ExpertSchedule.single((float) spec.guidance())
                : new ExpertSchedule(preset.boundaryRatio() * SigmaSchedule.NUM_TRAIN_TIMESTEPS, (float) spec.guidance(),
                        (float) (Double.isNaN(spec.guidanceLow()) ? spec.guidance() : spec.guidanceLow()));
        int[] step = {0};
        SamplingLoop.FlowModel flow = (expert, x, t) -> {
            int e = expert == ExpertSchedule.Expert.HIGH_NOISE ? 0 : 1;
            var weights = experts.get(e); // into device memory (a copy from the host when the other expert held it)
            if (models.get(e) == null) { // in the clip's memory, outside the step's
                models.set(e, new WanTransformer<>(ops, weights, attention));
                prompts.set(e, models.get(e).encodePrompt(context));
            }
            Tensor cond;
            Tensor uncond;
            try (MemoryRegion<T> stepMemory = ops.region()) {
                T latent = ops.fromHost(x.reshape(prepend(1, latentShape)));
                T batch = ops.concat(0, List.of(latent, latent));
                T flows = models.get(e).forward(batch, Timesteps.uniform(2, t), prompts.get(e), step[0]);
                // each batch row straight into an array of its own (a slice of the leading dimension is a view)
                cond = ops.toHost(ops.slice(flows, 0, 0, 1)).reshape(latentShape);
                uncond = ops.toHost(ops.slice(flows, 0, 1, 2)).reshape(latentShape);
                if (!allFinite(cond.data()) || !allFinite(uncond.data())) {
                    var site = models.get(e).locateNonFinite(batch, Timesteps.uniform(2, t), prompts.get(e), step[0]);
                    throw new ClipFailedException("Cannot render clip " + id + ": NaN/Inf in latents at step " + step[0]
                            + " of " + spec.steps() + " (0-based, timestep " + t + "), first in "
                            + (site != null ? site : "no layer when the step was re-run (not reproducible)")
                            + (models.size() > 1 ? " of expert " + expertDirs.get(e).name() : ""));
                }
            }
            return new SamplingLoop.Flows(cond, uncond);
        };
        Tensor latents = SamplingLoop.run(noise, schedule, expertSchedule, flow, (i, t, expert, g) -> {
            step[0] = i + 1;
            listener.progress(id, "dit", i + 1, spec.steps());
        });
        ops.release(context);
        seconds.put("dit", lap(t1));
        seconds.put("attention", attention.attentionSeconds());
        if (experts.shared()) { // part of "dit": copying the other expert's weights over the one in device memory
            seconds.put("expert_swap", experts.swapSeconds() - swapSecondsBefore);
        }
        peaks.put("dit", ops.memoryPeak());

        long t2 = System.nanoTime();
        ops.resetMemoryPeak();
        listener.progress(id, "vae", 0, 1);
        Path video = workDir.resolve(id + ".mp4");
        CapturedRender captured = null;
        if (capture) {
            Path frames = workDir.resolve(id + ".rgb24");
            try (RawFrames.Writer raw = new RawFrames.Writer(frames, spec.width(), spec.height())) {
                LatentsToMp4.write(ops, vae, ops.fromHost(latents), video, preset.defaults().fps(), raw);
                captured = new CapturedRender(frames, spec.width(), spec.height(), raw.count(), latents.data().clone());
            }
        } else {
            LatentsToMp4.write(ops, vae, ops.fromHost(latents), video, preset.defaults().fps());
        }
        seconds.put("vae_encode", lap(t2));
        seconds.put("total", lap(t0));
        peaks.put("vae", ops.memoryPeak());
        long peak = peaks.values().stream().mapToLong(Long::longValue).max().orElse(0);
        return new RenderResult(video, seconds, attention.statistics(), peak, captured, null, peaks);
    }

    private T padded(T rows) {
        int[] s = ops.shape(rows); // [real tokens, D]
        int len = repo.preset().transformer().textLen();
        T one = ops.reshape(rows, 1, s[0], s[1]);
        if (s[0] == len) {
            return one;
        }
        return ops.concat(1, List.of(one, ops.fromHost(Tensor.zeros(1, len - s[0], s[1]))));
    }

    private static boolean allFinite(float[] v) {
        java.util.concurrent.atomic.AtomicBoolean bad = new java.util.concurrent.atomic.AtomicBoolean();
        io.sparserender.engine.tensor.ElementChunks.forEach(v.length, (from, to) -> {
            for (int i = from; i < to; i++) {
                if (!Float.isFinite(v[i])) {
                    bad.set(true);
                    return;
                }
            }
        });
        return !bad.get();
    }

    private static int[] prepend(int d, int[] shape) {
        int[] s = new int[shape.length + 1];
        s[0] = d;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
    }

    private static double lap(long since) {
        return (System.nanoTime() - since) / 1e9;
    }

    @Override
    public void close() {
        text.valueForClose().close();
    }
}
