package io.sparserender.engine.vae;

import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * The Wan 2.1 / 2.2 VAE decoder over {@link Ops}: post-quant 1×1×1 conv, then the causal decoder run one latent
 * frame at a time with a {@link CausalConvCache} (so memory does not grow with the clip's length), Wan 2.2's
 * unpatchify (12 channels → RGB at 2× the size), and a clamp to [−1, 1] (unless the config's
 * {@code clip_output} is false). The first latent frame becomes one
 * video frame, each later one {@link WanVaeConfig#temporalFactor()} frames: 1 + 4·(T − 1) in all. fp32.
 *
 * <p>Latents must be de-normalised first ({@link WanVaeLatents#denormalize}), as the pipelines do.
 */
public final class WanVaeDecoder<T> {
    private static final io.sparserender.engine.ops.CpuOps HOST = new io.sparserender.engine.ops.CpuOps();

    private final Ops<T> ops;
    private final WanVaeConfig config;
    private final CausalConv3d<T> postQuant;
    private final CausalConv3d<T> convIn;
    private final VaeResidualBlock<T> mid0;
    private final VaeAttentionBlock<T> midAttention;
    private final VaeResidualBlock<T> mid1;
    private final List<VaeUpStage<T>> stages;
    /**
     * The first up-stage after the last one that doubles time: from here on every layer is per frame or a causal
     * conv with its cache, so a chunk's frames can go through one at a time with the same result and a quarter
     * of the activations (the full-resolution stages hold the most).
     */
    private final int frameByFrameFrom;
    private final T normOut;
    private final CausalConv3d<T> convOut;
    private final int cacheSlots;

    private WanVaeDecoder(Ops<T> ops, WanVaeWeights w) {
        this.ops = ops;
        this.config = w.config();
        Builder b = new Builder(w);
        int[] d = config.decoderDims();
        postQuant = b.conv("post_quant_conv");
        convIn = b.conv("decoder.conv_in");
        mid0 = b.resnet("decoder.mid_block.resnets.0");
        String a = "decoder.mid_block.attentions.0";
        midAttention = new VaeAttentionBlock<>(b.vector(a + ".norm.gamma"), b.conv2dAs3d(a + ".to_qkv.weight"),
                b.tensor(a + ".to_qkv.bias"), b.conv2dAs3d(a + ".proj.weight"), b.tensor(a + ".proj.bias"));
        mid1 = b.resnet("decoder.mid_block.resnets.1");
        List<VaeUpStage<T>> st = new ArrayList<>();
        for (int i = 0; i < config.upStages(); i++) {
            String p = "decoder.up_blocks." + i;
            List<VaeResidualBlock<T>> res = new ArrayList<>();
            for (int j = 0; j <= config.numResBlocks(); j++) {
                res.add(b.resnet(p + ".resnets." + j));
            }
            VaeUpsample<T> up = null;
            DupUp<T> dup = null;
            if (WanVaeWeights.hasUpsample(config, i)) {
                String u = p + (config.isResidual() ? ".upsampler" : ".upsamplers.0");
                CausalConv3d<T> time = config.temporalUpsample(i) ? b.conv(u + ".time_conv") : null;
                up = new VaeUpsample<>(time, b.conv2dAs3d(u + ".resample.1.weight"), b.tensor(u + ".resample.1.bias"));
                if (config.isResidual()) {
                    dup = new DupUp<>(WanVaeWeights.stageInput(config, i), d[i + 1], config.temporalUpsample(i) ? 2 : 1, 2);
                }
            }
            st.add(new VaeUpStage<>(res, up, dup));
        }
        stages = List.copyOf(st);
        int tail = 0;
        for (int i = 0; i < config.upStages(); i++) {
            if (WanVaeWeights.hasUpsample(config, i) && config.temporalUpsample(i)) {
                tail = i + 1;
            }
        }
        frameByFrameFrom = tail;
        normOut = b.vector("decoder.norm_out.gamma");
        convOut = b.conv("decoder.conv_out");
        cacheSlots = b.slots;
    }

    public static <T> WanVaeDecoder<T> load(Ops<T> ops, Path vaeFolder) {
        return create(ops, WanVaeWeights.load(vaeFolder));
    }

    public static <T> WanVaeDecoder<T> create(Ops<T> ops, WanVaeWeights weights) {
        return new WanVaeDecoder<>(ops, weights);
    }

    public WanVaeConfig config() {
        return config;
    }

    /**
     * Decodes de-normalised latents z [B, zDim, T, h, w] to video [B, videoChannels, 1 + 4·(T − 1), h·s, w·s]
     * in [−1, 1], where s = {@link WanVaeConfig#spatialFactor()} (the diffusers {@code vae.decode(z)}).
     */
    public T decode(T z) {
        int[] s = ops.shape(z);
        if (s.length != 5 || s[1] != config.zDim()) {
            throw new IllegalArgumentException("Cannot decode latents " + Arrays.toString(s) + ": expected [B, "
                    + config.zDim() + ", T, h, w]");
        }
        List<T> samples = new ArrayList<>();
        for (int b = 0; b < s[0]; b++) {
            T zb = ops.reshape(ops.slice(z, 0, b, b + 1), s[1], s[2], s[3], s[4]);
            // each chunk leaves the session's memory region through the host (this whole-clip form is for checks and tests)
            List<io.sparserender.engine.tensor.Tensor> chunks = new ArrayList<>();
            decode(zb, chunk -> chunks.add(ops.toHost(chunk)));
            T video = ops.fromHost(HOST.concat(1, chunks));
            int[] v = ops.shape(video);
            samples.add(ops.reshape(video, 1, v[0], v[1], v[2], v[3]));
        }
        return samples.size() == 1 ? samples.get(0) : ops.concat(0, samples);
    }

    /**
     * Decodes one sample's latents z [zDim, T, h, w] chunk by chunk, handing each chunk's frames
     * [videoChannels, frames, H, W] to {@code sink} as soon as they are ready (the sink owns them).
     */
    public void decode(T z, Consumer<T> sink) {
        int[] s = ops.shape(z);
        if (s.length != 4 || s[0] != config.zDim()) {
            throw new IllegalArgumentException("Cannot decode latents " + Arrays.toString(s) + ": expected ["
                    + config.zDim() + ", T, h, w]");
        }
        Session session = session();
        for (int i = 0; i < s[1]; i++) {
            T frame = ops.slice(z, 1, i, i + 1);
            sink.accept(session.next(frame));
            ops.release(frame);
        }
        session.close();
    }

    /** A fresh chunked decode: feed latent frames in order. */
    public Session session() {
        return new Session();
    }

    /**
     * One clip's chunked decode: its own cache, fed one latent frame [zDim, 1, h, w] at a time. Its tensors live
     * in one memory region that every chunk compacts to the cache and that chunk's output, so device memory stays
     * flat however many frames are decoded.
     */
    public final class Session implements AutoCloseable {
        private final CausalConvCache<T> cache = new CausalConvCache<>(ops, cacheSlots);
        private final io.sparserender.engine.ops.MemoryRegion<T> region = ops.region();
        private int chunks;

        /** Decodes the next latent frame [zDim, 1, h, w] to [videoChannels, 1 or temporalFactor, H, W]. */
        public T next(T latentFrame) {
            int[] s = ops.shape(latentFrame);
            if (s.length != 4 || s[0] != config.zDim() || s[1] != 1) {
                throw new IllegalArgumentException("Cannot decode latent frame " + Arrays.toString(s) + ": expected ["
                        + config.zDim() + ", 1, h, w]");
            }
            boolean first = chunks == 0;
            T x = postQuant.forward(ops, latentFrame, cache);
            x = step(x, convIn.forward(ops, x, cache));
            x = step(x, mid0.forward(ops, x, cache));
            x = step(x, midAttention.forward(ops, x));
            x = step(x, mid1.forward(ops, x, cache));
            x = settle(x);
            for (int i = 0; i < frameByFrameFrom; i++) {
                x = settle(step(x, stages.get(i).forward(ops, x, cache, first)));
            }
            int frames = ops.shape(x)[1];
            chunks++;
            if (frames == 1) {
                return settle(last(tail(list(x), first)));
            }
            // one frame at a time through the rest; x and the decoded frames so far are kept through each settle
            List<T> decoded = new ArrayList<>();
            for (int f = 0; f < frames; f++) {
                List<T> held = new ArrayList<>(decoded);
                held.add(x);
                held.add(ops.slice(x, 1, f, f + 1));
                held = settle(tail(held, first)); // [decoded..., x, frame f]
                T frame = held.remove(held.size() - 1);
                x = held.remove(held.size() - 1);
                decoded = held;
                decoded.add(frame);
            }
            ops.release(x);
            return settle(decoded.size() == 1 ? decoded.get(0) : ops.concat(1, decoded));
        }

        /**
         * The up-stages from {@link #frameByFrameFrom} and the head on the last tensor of {@code held} ([C, t, h, w]),
         * settling after each stage with the others of {@code held} kept. Returns held's new references, the last
         * replaced by the output.
         */
        private List<T> tail(List<T> held, boolean first) {
            int at = held.size() - 1;
            for (int i = frameByFrameFrom; i < stages.size(); i++) {
                T x = held.get(at);
                held.set(at, step(x, stages.get(i).forward(ops, x, cache, first)));
                held = settle(held);
            }
            T x = held.get(at);
            x = step(x, ops.channelRmsNorm(x, normOut, null));
            x = step(x, ops.silu(x));
            x = step(x, convOut.forward(ops, x, cache));
            if (config.patchSize() > 1) {
                x = step(x, unpatchify(x, config.patchSize()));
            }
            if (config.clipOutput()) {
                x = step(x, ops.clamp(x, -1f, 1f));
            }
            held.set(at, x);
            return held;
        }

        /**
         * Frees everything this session made except the conv cache and {@code keep} (after the mid blocks, each
         * up-stage and the chunk): a chunk holds one stage's activations at a time, whatever the resolution.
         * Returns keep's new references in order.
         */
        private List<T> settle(List<T> keep) {
            List<T> all = new ArrayList<>(cache.entries());
            int n = all.size();
            all.addAll(keep);
            List<T> kept = region.compact(all);
            cache.replaceEntries(kept.subList(0, n));
            return new ArrayList<>(kept.subList(n, kept.size()));
        }

        private T settle(T x) {
            return settle(list(x)).get(0);
        }

        private List<T> list(T x) {
            List<T> l = new ArrayList<>();
            l.add(x);
            return l;
        }

        private T last(List<T> l) {
            return l.get(l.size() - 1);
        }

        public CausalConvCache<T> cache() {
            return cache;
        }

        public int chunks() {
            return chunks;
        }

        @Override
        public void close() {
            cache.clear();
            region.close();
        }
    }

    private T step(T previous, T next) {
        if (previous != next) {
            ops.release(previous);
        }
        return next;
    }

    /** [c·p·p, f, h, w] → [c, f, h·p, w·p]; channel (c, a, b) lands at column offset a, row offset b. */
    private T unpatchify(T x, int p) {
        int[] s = ops.shape(x);
        int c = s[0] / (p * p);
        T perm = ops.permute(ops.reshape(x, c, p, p, s[1], s[2], s[3]), 0, 3, 4, 2, 5, 1);
        return ops.reshape(perm, c, s[1], s[2] * p, s[3] * p);
    }

    /** Turns named host tensors into layers, handing each causal conv with a time kernel its own cache slot. */
    private final class Builder {
        private final WanVaeWeights w;
        private int slots;

        Builder(WanVaeWeights w) {
            this.w = w;
        }

        T tensor(String name) {
            return ops.parameter(w.get(name));
        }

        /** A norm gamma of any stored shape [C, 1, ...] as [C]. */
        T vector(String name) {
            Tensor t = w.get(name);
            return ops.parameter(t.reshape(t.shape()[0]));
        }

        /** A 2D conv weight [O, C, kh, kw] as [O, C, 1, kh, kw]. */
        T conv2dAs3d(String name) {
            Tensor t = w.get(name);
            int[] s = t.shape();
            return ops.parameter(t.reshape(s[0], s[1], 1, s[2], s[3]));
        }

        CausalConv3d<T> conv(String prefix) {
            T weight = tensor(prefix + ".weight");
            CausalConv3d<T> c = new CausalConv3d<>(ops, weight, tensor(prefix + ".bias"), slots);
            if (c.usesCache()) {
                slots++;
            }
            return c;
        }

        VaeResidualBlock<T> resnet(String p) {
            CausalConv3d<T> shortcut = w.tensors().containsKey(p + ".conv_shortcut.weight") ? conv(p + ".conv_shortcut") : null;
            return new VaeResidualBlock<>(vector(p + ".norm1.gamma"), conv(p + ".conv1"), vector(p + ".norm2.gamma"),
                    conv(p + ".conv2"), shortcut);
        }
    }
}
