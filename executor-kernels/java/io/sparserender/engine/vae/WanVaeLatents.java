package io.sparserender.engine.vae;

import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;
import java.util.Arrays;

/** The per-channel latent normalisation of the Wan VAEs (config {@code latents_mean} / {@code latents_std}). */
public final class WanVaeLatents {
    private WanVaeLatents() {}

    /**
     * z·std + mean per channel: what the pipelines apply to the sampler's latents before {@code vae.decode}.
     * z is [B, zDim, T, h, w] or [zDim, T, h, w].
     */
    public static <T> T denormalize(Ops<T> ops, T z, WanVaeConfig config) {
        int c = channels(ops, z, config);
        T std = ops.fromHost(column(config.latentsStd().stream().mapToDouble(Double::doubleValue).toArray(), c));
        T mean = ops.fromHost(column(config.latentsMean().stream().mapToDouble(Double::doubleValue).toArray(), c));
        T scaled = ops.mul(z, std);
        T out = ops.add(scaled, mean);
        ops.release(scaled);
        return out;
    }

    /** (x − mean)/std per channel: the inverse, as the encoder side of the pipelines applies it. */
    public static <T> T normalize(Ops<T> ops, T x, WanVaeConfig config) {
        int c = channels(ops, x, config);
        double[] inv = config.latentsStd().stream().mapToDouble(s -> 1 / s).toArray();
        T mean = ops.fromHost(column(config.latentsMean().stream().mapToDouble(Double::doubleValue).toArray(), c));
        T centered = ops.sub(x, mean);
        T out = ops.mul(centered, ops.fromHost(column(inv, c)));
        ops.release(centered);
        return out;
    }

    private static <T> int channels(Ops<T> ops, T z, WanVaeConfig config) {
        int[] s = ops.shape(z);
        int axis = s.length == 5 ? 1 : 0;
        if ((s.length != 5 && s.length != 4) || s[axis] != config.zDim()) {
            throw new IllegalArgumentException("Cannot (de)normalise latents " + Arrays.toString(s) + ": expected [B, "
                    + config.zDim() + ", T, h, w] or [" + config.zDim() + ", T, h, w]");
        }
        return s[axis];
    }

    private static Tensor column(double[] v, int c) {
        float[] f = new float[c];
        for (int i = 0; i < c; i++) {
            f[i] = (float) v[i];
        }
        return new Tensor(f, c, 1, 1, 1);
    }
}
