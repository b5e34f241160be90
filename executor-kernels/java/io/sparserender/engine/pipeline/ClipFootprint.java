package io.sparserender.engine.pipeline;

import io.sparserender.engine.model.wan.WanConfig;
import io.sparserender.engine.vae.WanVaeConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What one clip needs in memory before it starts, from its sizes and the model's shapes: the largest
 * tensors of each stage and an estimate of the peak working set (float32, excluding the weights). A
 * clip that cannot fit is refused up front, alone, with the sizes named, instead of failing half way
 * (or taking the executor down with an {@link OutOfMemoryError}).
 *
 * <p>The estimate: the DiT holds about 8 tensors of [2, L, dim] (residual stream, normalised input, q,
 * k, v, attention output, projections) and 2 of [2, L, ffn_dim] at once; the VAE decoder holds about 3
 * tensors of its largest chunk activation (input, output, causal cache), bounded by the widest stage
 * at that stage's output resolution with one chunk of frames; plus 4 copies of the latents (noise,
 * sample, two flows). The CPU backend also cannot hold any one tensor over a Java array (2^31 − 9
 * elements).
 *
 * @param tensors the largest tensor of each stage, by name
 */
public record ClipFootprint(List<Part> tensors, long peakBytes) {
    /** The most elements one float array (one CPU tensor) can hold. */
    public static final long MAX_ARRAY_ELEMENTS = Integer.MAX_VALUE - 8;

    /** One tensor of the clip: its role and shape. */
    public record Part(String name, long[] shape) {
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        @Override
        public String toString() {
            return name + " " + Arrays.toString(shape).replace(" ", "");
        }
    }

    public ClipFootprint {
        tensors = List.copyOf(tensors);
    }

    public static ClipFootprint of(WanConfig dit, WanVaeConfig vae, ClipSpec spec) {
        long stride = vae.spatialFactor();
        long latentFrames = (spec.frames() - 1L) / vae.temporalFactor() + 1;
        long h = spec.height() / stride;
        long w = spec.width() / stride;
        long tokens = (latentFrames / dit.patchT()) * (h / dit.patchH()) * (w / dit.patchW());
        Part latents = new Part("latents", new long[] {dit.inChannels(), latentFrames, h, w});
        Part hidden = new Part("DiT hidden states", new long[] {2, tokens, dit.dim()});
        Part ffn = new Part("DiT feed-forward", new long[] {2, tokens, dit.ffnDim()});
        Part vaeChunk = widestVaeActivation(vae, h, w);
        List<Part> parts = new ArrayList<>(List.of(latents, hidden, ffn, vaeChunk));
        long dit4 = 8 * hidden.elements() + 2 * ffn.elements();
        long vae4 = 3 * vaeChunk.elements();
        long peak = 4L * (Math.max(dit4, vae4) + 4 * latents.elements());
        return new ClipFootprint(parts, peak);
    }

    /** The decoder's widest stage input at that stage's output resolution, for one chunk of frames. */
    private static Part widestVaeActivation(WanVaeConfig vae, long h, long w) {
        int[] dims = vae.decoderDims();
        long best = 0;
        long[] shape = null;
        long scale = 1;
        for (int i = 0; i < vae.upStages(); i++) {
            if (i < vae.upStages() - 1) {
                scale *= 2;
            }
            long[] s = {dims[i], vae.temporalFactor(), h * scale, w * scale};
            long n = s[0] * s[1] * s[2] * s[3];
            if (n > best) {
                best = n;
                shape = s;
            }
        }
        return new Part("VAE decoder chunk", shape);
    }

    /** The largest single tensor. */
    public Part largest() {
        Part max = tensors.get(0);
        for (Part p : tensors) {
            if (p.elements() > max.elements()) {
                max = p;
            }
        }
        return max;
    }

    /**
     * Null when the clip fits, otherwise why not: a tensor over the Java array limit (when
     * {@code arrayLimited}, the CPU backend), or a peak over {@code budgetBytes}.
     */
    public String refusal(long budgetBytes, boolean arrayLimited) {
        Part largest = largest();
        if (arrayLimited && largest.elements() > MAX_ARRAY_ELEMENTS) {
            return "its " + largest + " holds " + largest.elements() + " elements, over the " + MAX_ARRAY_ELEMENTS
                    + " one CPU tensor (a Java array) can hold";
        }
        if (peakBytes > budgetBytes) {
            return "it needs about " + mib(peakBytes) + " of working memory (largest tensor " + largest + "), over the "
                    + mib(budgetBytes) + " memory budget";
        }
        return null;
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%,d MiB", (bytes + (1 << 20) - 1) >> 20);
    }
}
