package io.sparserender.engine.model.wan;

import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.ops.MemoryRegion;
import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The Wan DiT forward pass (Wan 2.1 and 2.2 shapes), written once over {@link Ops}.
 *
 * <p>Per block, with (shift1, scale1, gate1, shift2, scale2, gate2) = block table + time projection:
 * {@code x += gate1·SelfAttn(LN(x)(1+scale1)+shift1)}; {@code x += CrossAttn(LN_affine(x), ctx)};
 * {@code x += gate2·FFN(LN(x)(1+scale2)+shift2)}. q and k are RMS-normalised over the whole width
 * before the heads are split; self-attention q, k get 3D RoPE. The head modulates with the time
 * embedding itself (not its projection) and unpatchifies with channel order [pt][ph][pw][c].
 *
 * <p>The prompt's cross-attention keys and values depend only on the prompt and this expert's weights:
 * {@link #encodePrompt} computes them once, and every {@link #forward} step reuses them.
 */
public final class WanTransformer<T> {
    private final Ops<T> ops;
    private final WanConfig config;
    private final WanWeights<T> weights;
    private final SelfAttention<T> selfAttention;
    private final Rope3d rope;
    private boolean collapseConstantTimesteps = true;

    public WanTransformer(Ops<T> ops, WanWeights<T> weights, SelfAttention<T> selfAttention) {
        this.ops = Objects.requireNonNull(ops, "ops is null");
        this.weights = Objects.requireNonNull(weights, "weights is null");
        this.selfAttention = Objects.requireNonNull(selfAttention, "selfAttention is null");
        this.config = weights.config();
        this.rope = new Rope3d(config.headDim(), config.ropeMaxSeqLen());
    }

    public WanConfig config() {
        return config;
    }

    /** For tests: run per-token timesteps through the per-token path even when they are constant per sample. */
    void collapseConstantTimesteps(boolean collapse) {
        this.collapseConstantTimesteps = collapse;
    }

    /**
     * A prompt prepared for one expert: the embedded text and every layer's cross-attention keys and values.
     *
     * @param keys       per layer, [B, textLen, H, D] after the k RMSNorm
     * @param values     per layer, [B, textLen, H, D]
     * @param realTokens rows the caller gave
     * @param rows       rows attended to: textLen after zero padding, or realTokens without
     * @param owner      the weights the keys and values were projected with; {@link #forward} refuses a prompt
     *                   of another expert
     */
    public record Prompt<T>(List<T> keys, List<T> values, int batch, int realTokens, int rows, Object owner) {
        public boolean padded() {
            return realTokens < rows;
        }
    }

    /**
     * Embeds a prompt [B, T, textDim] (T ≤ textLen; zero rows are appended up to textLen, as both the
     * original model and the diffusers pipelines do, and take part in attention unmasked) and projects the
     * cross-attention keys and values of every layer.
     */
    public Prompt<T> encodePrompt(T encoderHiddenStates) {
        return encodePrompt(encoderHiddenStates, true);
    }

    /**
     * As {@link #encodePrompt(Object)}; with {@code padToTextLen} false the T rows are used as given, which
     * is what diffusers' transformer module computes when called directly with unpadded rows (the shared
     * fixtures were made that way). Real pipelines always pad.
     */
    public Prompt<T> encodePrompt(T encoderHiddenStates, boolean padToTextLen) {
        int[] s = ops.shape(encoderHiddenStates);
        if (s.length != 3 || s[2] != config.textDim()) {
            throw new IllegalArgumentException("Invalid encoder_hidden_states " + Arrays.toString(s)
                    + ": expected [B, T, " + config.textDim() + "]");
        }
        if (s[1] > config.textLen() || s[1] == 0) {
            throw new IllegalArgumentException("Invalid encoder_hidden_states " + Arrays.toString(s)
                    + ": T = " + s[1] + " must be in [1, " + config.textLen() + "]");
        }
        T text = encoderHiddenStates;
        if (padToTextLen && s[1] < config.textLen()) {
            text = ops.concat(1, java.util.List.of(text, ops.fromHost(Tensor.zeros(s[0], config.textLen() - s[1], config.textDim()))));
        }
        T ctx = linear(linearGeluTanh(text, weights.text1), weights.text2);
        List<T> keys = new ArrayList<>();
        List<T> values = new ArrayList<>();
        for (WanWeights.Block<T> b : weights.blocks()) {
            WanWeights.Attention<T> a = b.cross();
            keys.add(heads(ops.rmsNorm(linear(ctx, a.k()), a.normK(), config.eps())));
            values.add(heads(linear(ctx, a.v())));
        }
        ops.release(ctx);
        return new Prompt<>(List.copyOf(keys), List.copyOf(values), s[0], s[1], padToTextLen ? config.textLen() : s[1], weights);
    }

    /**
     * One forward: latents [B, C_in, F, H, W], timesteps [B] or [B, L] with L the token count, a prompt from
     * {@link #encodePrompt} with the same B. Returns the prediction [B, C_out, F, H, W].
     */
    public T forward(T latents, Timesteps timesteps, Prompt<T> prompt) {
        return forward(latents, timesteps, prompt, -1);
    }

    /** As {@link #forward(Object, Timesteps, Prompt)}, telling the attention policy which denoising step this is. */
    public T forward(T latents, Timesteps timesteps, Prompt<T> prompt, int step) {
        return run(latents, timesteps, prompt, step, null);
    }

    /**
     * Where in the model a forward first produces a NaN or infinite value: the layer (block) and the part
     * of it, or a part outside the blocks (layer −1).
     */
    public record NonFiniteSite(int layer, String part) {
        @Override
        public String toString() {
            return layer < 0 ? part : "layer " + layer + " (" + part + ")";
        }
    }

    /**
     * Runs the same forward again, checking every block's output for NaN and infinite values (a copy to the
     * host after each part: for diagnosis after a forward went non-finite, not for every step), and returns
     * the first place one appears, or null when this run stays finite.
     */
    public NonFiniteSite locateNonFinite(T latents, Timesteps timesteps, Prompt<T> prompt, int step) {
        Probe<T> probe = (layer, part, x) -> {
            for (float f : ops.toHost(x).data()) {
                if (!Float.isFinite(f)) {
                    throw new Found(new NonFiniteSite(layer, part));
                }
            }
        };
        try {
            run(latents, timesteps, prompt, step, probe);
            return null;
        } catch (Found found) {
            return found.site;
        }
    }

    /** Looks at an activation after a part of the forward; null in normal runs. */
    @FunctionalInterface
    private interface Probe<T> {
        void after(int layer, String part, T x);
    }

    private static final class Found extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient NonFiniteSite site;

        Found(NonFiniteSite site) {
            super(site.toString(), null, false, false);
            this.site = site;
        }
    }

    private void probe(Probe<T> probe, int layer, String part, T x) {
        if (probe != null) {
            probe.after(layer, part, x);
        }
    }

    private T run(T latents, Timesteps timesteps, Prompt<T> prompt, int step, Probe<T> probe) {
        int[] s = ops.shape(latents);
        if (s.length != 5) {
            throw new IllegalArgumentException("Invalid hidden_states " + Arrays.toString(s) + ": expected [B, C, F, H, W]");
        }
        int b = s[0];
        if (s[1] != config.inChannels()) {
            throw new IllegalArgumentException("Invalid hidden_states " + Arrays.toString(s) + ": " + s[1]
                    + " channels, the model takes " + config.inChannels());
        }
        if (s[2] % config.patchT() != 0 || s[3] % config.patchH() != 0 || s[4] % config.patchW() != 0) {
            throw new IllegalArgumentException("Invalid hidden_states " + Arrays.toString(s) + ": F, H, W must be multiples of the patch "
                    + config.patchT() + "×" + config.patchH() + "×" + config.patchW());
        }
        int gf = s[2] / config.patchT();
        int gh = s[3] / config.patchH();
        int gw = s[4] / config.patchW();
        int tokens = gf * gh * gw;
        if (timesteps.batch() != b || timesteps.perSample() != 1 && timesteps.perSample() != tokens) {
            throw new IllegalArgumentException("Invalid timestep [" + timesteps.batch()
                    + (timesteps.perSample() == 1 ? "" : ", " + timesteps.perSample()) + "]: expected [" + b + "] or ["
                    + b + ", " + tokens + "] for " + tokens + " tokens");
        }
        if (prompt.owner() != weights) {
            throw new IllegalArgumentException("Invalid prompt: it was encoded by another transformer (expert); encode the"
                    + " prompt once per expert");
        }
        if (prompt.batch() != b) {
            throw new IllegalArgumentException("Invalid prompt: batch " + prompt.batch() + ", latents have batch " + b);
        }
        if (collapseConstantTimesteps && timesteps.perSample() > 1 && timesteps.constantPerSample()) {
            timesteps = timesteps.collapsed();
        }
        Timesteps ts = timesteps;
        return ops.scoped(() -> forwardBlocks(latents, ts, prompt, step, gf, gh, gw, probe));
    }

    private T forwardBlocks(T latents, Timesteps timesteps, Prompt<T> prompt, int step, int gf, int gh, int gw, Probe<T> probe) {
        int b = ops.shape(latents)[0];
        int d = config.dim();
        int lm = timesteps.perSample(); // 1 or tokens: modulation rows per sample

        // time: e [B, lm, dim], e0 [B, lm, 6·dim]
        T sin = ops.fromHost(TimestepEmbedding.sinusoid(timesteps.values(), config.freqDim()));
        T e = linear(ops.silu(linear(sin, weights.time1)), weights.time2);
        T e0 = ops.reshape(linear(ops.silu(e), weights.timeProj), b, lm, 6 * d);
        e = ops.reshape(e, b, lm, d);

        probe(probe, -1, "input latents", latents);
        probe(probe, -1, "time embedding", e0);
        Rope3d.Tables<T> rot = rope.tables(ops, gf, gh, gw);
        T hm = weights.headModulation; // [2·dim]
        T shift = ops.add(ops.slice(hm, 0, 0, d), e);
        T scale = ops.add(ops.slice(hm, 0, d, 2 * d), e);
        // The residual stream in its own memory region, compacted to x after every block: a forward holds one
        // block's activations at a time.
        MemoryRegion<T> stream = ops.region();
        try {
            T x = linear(patchify(latents, gf, gh, gw), weights.patchEmbedding); // [B, L, dim]
            probe(probe, -1, "patch embedding", x);
            for (int i = 0; i < weights.blocks().size(); i++) {
                x = block(i, step, x, e0, prompt, rot, probe);
                x = stream.compact(List.of(x)).get(0);
            }
            T out = linear(ops.adaLayerNorm(x, shift, scale, config.eps()), weights.projOut);
            probe(probe, -1, "output head", out);
            return stream.closeKeeping(unpatchify(out, b, gf, gh, gw));
        } catch (RuntimeException | Error ex) {
            stream.close();
            throw ex;
        }
    }

    /**
     * One block. The residual stream x is given up to each half's {@link Ops#updateResidual}, which a backend may
     * write over (the block's input is never needed after its half), so its halves return the stream itself.
     */
    private T block(int layer, int step, T x, T e0, Prompt<T> prompt, Rope3d.Tables<T> rot, Probe<T> probe) {
        WanWeights.Block<T> w = weights.blocks().get(layer);
        int d = config.dim();
        T mod = ops.add(e0, w.modulation()); // [B, lm, 6·dim]
        T shift1 = ops.slice(mod, 2, 0, d);
        T scale1 = ops.slice(mod, 2, d, 2 * d);
        T gate1 = ops.slice(mod, 2, 2 * d, 3 * d);
        T shift2 = ops.slice(mod, 2, 3 * d, 4 * d);
        T scale2 = ops.slice(mod, 2, 4 * d, 5 * d);
        T gate2 = ops.slice(mod, 2, 5 * d, 6 * d);

        // Each half in a memory scope of its own that keeps only the new residual stream: a block holds one
        // half's activations at a time (the FFN's hidden layer, or q, k, v and the attention output), not all.
        T x0 = x;
        x = ops.scoped(() -> {
            T h = ops.adaLayerNorm(x0, shift1, scale1, config.eps());
            WanWeights.Attention<T> a = w.self();
            T q = rotatedHeads(h, a.q(), a.normQ(), rot);
            T k = rotatedHeads(h, a.k(), a.normK(), rot);
            T v = heads(linear(h, a.v()));
            T att = selfAttention.attend(ops, q, k, v, new SelfAttention.Site(layer, step, rot.frames(), rot.height(), rot.width()));
            T out = ops.updateResidual(x0, linear(merge(att), a.o()), gate1);
            probe(probe, layer, "self-attention", out);
            return out;
        });

        // cross-attention: dense, keys and values from the prepared prompt
        T x1 = x;
        x = ops.scoped(() -> {
            WanWeights.Attention<T> c = w.cross();
            T h = config.crossAttnNorm() ? ops.layerNormForProduct(x1, w.norm2Weight(), w.norm2Bias(), config.eps()) : x1;
            T cq = heads(ops.rmsNorm(linear(h, c.q()), c.normQ(), config.eps()));
            T catt = ops.attention(cq, prompt.keys().get(layer), prompt.values().get(layer),
                    (float) (1.0 / Math.sqrt(config.headDim())), null, null);
            T out = ops.updateResidual(x1, linear(merge(catt), c.o()), null);
            probe(probe, layer, "cross-attention", out);
            return out;
        });

        // feed-forward
        T x2 = x;
        return ops.scoped(() -> {
            T h = ops.adaLayerNorm(x2, shift2, scale2, config.eps());
            T ff = linear(linearGeluTanh(h, w.ffnIn()), w.ffnOut());
            T out = ops.updateResidual(x2, ff, gate2);
            probe(probe, layer, "feed-forward", out);
            return out;
        });
    }

    /**
     * RoPE(heads(RMSNorm(h·W + b))): q or k of self-attention, in a scope that keeps only the result (on the
     * CUDA backend the fused norm and rotation write over the product, so the scope frees and moves nothing).
     */
    private T rotatedHeads(T h, WanWeights.Linear<T> projection, T norm, Rope3d.Tables<T> rot) {
        return ops.scoped(() -> rope.applyNormalized(ops, linear(h, projection), norm, config.eps(), config.numHeads(), rot));
    }

    private T linear(T x, WanWeights.Linear<T> l) {
        return ops.linear(x, l.weight(), l.bias());
    }

    /** GELU(tanh)(x·W + b), which a backend may fuse into the product. */
    private T linearGeluTanh(T x, WanWeights.Linear<T> l) {
        return ops.linearGeluTanh(x, l.weight(), l.bias());
    }

    /** [B, L, dim] → [B, L, H, D] */
    private T heads(T x) {
        int[] s = ops.shape(x);
        return ops.reshape(x, s[0], s[1], config.numHeads(), config.headDim());
    }

    /** [B, L, H, D] → [B, L, dim] */
    private T merge(T x) {
        int[] s = ops.shape(x);
        return ops.reshape(x, s[0], s[1], s[2] * s[3]);
    }

    /** [B, C, F, H, W] → [B, L, C·pt·ph·pw], each patch vector read in order [c][pt][ph][pw]. */
    private T patchify(T latents, int gf, int gh, int gw) {
        int[] s = ops.shape(latents);
        int pt = config.patchT();
        int ph = config.patchH();
        int pw = config.patchW();
        T r = ops.reshape(latents, s[0], s[1], gf, pt, gh, ph, gw, pw);
        T p = ops.permute(r, 0, 2, 4, 6, 1, 3, 5, 7); // B, gf, gh, gw, C, pt, ph, pw
        return ops.reshape(p, s[0], gf * gh * gw, s[1] * pt * ph * pw);
    }

    /** [B, L, pt·ph·pw·C] (c fastest) → [B, C, F, H, W]. */
    private T unpatchify(T x, int b, int gf, int gh, int gw) {
        int pt = config.patchT();
        int ph = config.patchH();
        int pw = config.patchW();
        int c = config.outChannels();
        T r = ops.reshape(x, b, gf, gh, gw, pt, ph, pw, c);
        T p = ops.permute(r, 0, 7, 1, 4, 2, 5, 3, 6); // B, C, gf, pt, gh, ph, gw, pw
        return ops.reshape(p, b, c, gf * pt, gh * ph, gw * pw);
    }
}
