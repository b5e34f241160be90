package io.sparserender.driver.job;

import io.sparserender.driver.executor.ClipRendererFactory;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.engine.pipeline.ClipFailedException;
import io.sparserender.engine.pipeline.ClipRenderer;
import io.sparserender.engine.pipeline.ClipSpec;
import io.sparserender.engine.pipeline.LayerStepStats;
import io.sparserender.engine.pipeline.RenderListener;
import io.sparserender.engine.pipeline.RenderResult;
import io.sparserender.engine.quality.CapturedRender;
import io.sparserender.engine.quality.RawFrames;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for the model in tests of the pipeline's own rules (planning, exactly-once outputs,
 * resume, rejected rows, statistics tables): it writes a small deterministic file per clip instead of
 * running a model, counts its renders, and fails clips whose prompt contains "FAIL". Asked to capture, it
 * keeps two 16×16 frames and four latents drawn from a seed that is the hash of the spec, so equal specs
 * compare equal and any other spec does not. Options: {@code delay_ms} (time per clip, so an executor can be
 * killed mid-run) and {@code video_bytes} (pads every file to this size, so uploads are large enough to be
 * cut half way). Its {@link ClipRenderer#device()} names the GPU address the executor was given ("stand-in gpu 1"), or
 * "stand-in" without one, so tests can see which device rendered a clip, as the CUDA renderer's UUID shows on a GPU host.
 */
public final class StandInRendererFactory implements ClipRendererFactory {
    static final AtomicInteger RENDERS = new AtomicInteger();

    /** The stand-in's file for a clip: "frames of " + its canonical spec, padded with 'x' to {@code size} bytes. */
    static byte[] content(ClipSpec spec, int size) {
        byte[] head = ("frames of " + spec.canonicalJson()).getBytes(StandardCharsets.UTF_8);
        if (head.length >= size) {
            return head;
        }
        byte[] all = java.util.Arrays.copyOf(head, size);
        java.util.Arrays.fill(all, head.length, size, (byte) 'x');
        return all;
    }

    @Override
    public ClipRenderer create(RendererSettings settings, int deviceIndex) {
        return new ClipRenderer() {
            @Override
            public RenderResult render(ClipSpec spec, Path workDir, RenderListener listener, boolean capture) {
                long delay = Long.parseLong(settings.options().getOrDefault("delay_ms", "0"));
                if (delay > 0) {
                    try {
                        Thread.sleep(delay); // stands for model time, so an executor can be killed mid-run
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    }
                }
                if (spec.prompt().contains("FAIL")) {
                    throw new ClipFailedException("NaN in latents at step 1, layer 0 (stand-in failure)");
                }
                RENDERS.incrementAndGet();
                Path video = workDir.resolve(spec.clipId() + ".mp4");
                try {
                    Files.write(video, content(spec, Integer.parseInt(settings.options().getOrDefault("video_bytes", "0"))));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                List<LayerStepStats> att = new ArrayList<>();
                for (int step = 0; step < spec.steps(); step++) {
                    for (int layer = 0; layer < 2; layer++) {
                        att.add(new LayerStepStats(step, layer, 0.5, 0.4, Double.NaN, Double.NaN, Double.NaN));
                    }
                }
                CapturedRender captured = null;
                if (capture) {
                    java.util.Random rnd = new java.util.Random(spec.canonicalJson().hashCode());
                    Path frames = workDir.resolve(spec.clipId() + ".rgb24");
                    try (RawFrames.Writer w = new RawFrames.Writer(frames, 16, 16)) {
                        for (int t = 0; t < 2; t++) {
                            byte[] f = new byte[16 * 16 * 3];
                            rnd.nextBytes(f);
                            w.accept(f);
                        }
                    }
                    float[] latents = new float[4];
                    for (int i = 0; i < latents.length; i++) {
                        latents[i] = (float) rnd.nextGaussian();
                    }
                    captured = new CapturedRender(frames, 16, 16, 2, latents);
                }
                return new RenderResult(video, Map.of("dit", 0.01), att, 0, captured, null);
            }

            @Override
            public String device() {
                return deviceIndex >= 0 ? "stand-in gpu " + deviceIndex : "stand-in";
            }

            @Override
            public void close() {}
        };
    }
}
