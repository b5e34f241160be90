package io.sparserender.engine.sampler;

import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.ElementChunks;

/** Classifier-free guidance: v = v_uncond + g·(v_cond − v_uncond), as Wan's pipelines combine the two passes. */
public final class Guidance {
    private Guidance() {}

    /** In float32 on the host, element by element: u + g·(c − u), each operation rounded to float32. */
    public static float[] combine(float[] uncond, float[] cond, float scale) {
        if (uncond.length != cond.length) {
            throw new IllegalArgumentException("Cannot apply guidance: unconditional output has " + uncond.length
                    + " elements, conditional " + cond.length);
        }
        float[] out = new float[cond.length];
        ElementChunks.forEach(out.length, (from, to) -> {
            for (int i = from; i < to; i++) {
                out[i] = uncond[i] + scale * (cond[i] - uncond[i]);
            }
        });
        return out;
    }

    /**
     * The same combination over a backend's tensors (sub, scale, add); the caller keeps the outputs in
     * float32 on backends with lower-precision storage.
     */
    public static <T> T combine(Ops<T> ops, T uncond, T cond, float scale) {
        T diff = ops.sub(cond, uncond);
        T scaled = ops.scale(diff, scale);
        ops.release(diff);
        T out = ops.add(uncond, scaled);
        ops.release(scaled);
        return out;
    }
}
