package io.sparserender.engine.ops;

import io.sparserender.engine.tensor.Tensor;

/**
 * The operations model code (DiT, VAE, text encoder) is written against, once, over a backend's
 * tensor type {@code T}: {@link CpuOps} (float32 host reference) and the CUDA backend (bf16 with
 * fp32 accumulation; fp32 where the reference models keep fp32).
 *
 * <p>Conventions: row-major shapes; "[..., D]" means any leading dimensions; binary elementwise
 * operations broadcast like NumPy (shapes aligned on the right, each dimension equal or 1); every
 * operation returns a new tensor and leaves its inputs unchanged; nullable parameters are marked.
 */
public interface Ops<T> {
    /** Short backend name for statistics ("cpu", "cuda"). */
    String backend();

    T fromHost(Tensor t);

    Tensor toHost(T t);

    int[] shape(T t);

    /** The same elements under another shape with the same element count (a view where possible). */
    T reshape(T t, int... shape);

    /** Reorders dimensions: output dimension i is input dimension {@code axes[i]}. */
    T permute(T t, int... axes);

    /** Elements {@code [start, end)} along {@code dim}. */
    T slice(T t, int dim, int start, int end);

    /** Joins tensors along {@code dim}; other dimensions must match. */
    T concat(int dim, T... parts);

    // ---- elementwise, NumPy broadcasting ----

    T add(T a, T b);

    T sub(T a, T b);

    T mul(T a, T b);

    T addScalar(T a, float s);

    T scale(T a, float s);

    T silu(T a);

    /** GELU with the tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    T geluTanh(T a);

    // ---- reductions over the last dimension, fp32 math ----

    /** (x − mean)/√(var + eps), times gamma plus beta when given; over the last dimension. */
    T layerNorm(T x, T gamma /* nullable */, T beta /* nullable */, float eps);

    /** x/√(mean(x²) + eps), times gamma when given; over the last dimension. */
    T rmsNorm(T x, T gamma /* nullable */, float eps);

    T softmax(T x);

    // ---- products ----

    /** x [..., in] times weight [out, in] transposed, plus bias [out] when given: [..., out]. */
    T linear(T x, T weight, T bias /* nullable */);

    /**
     * Dense attention. q [B, Lq, H, D], k and v [B, Lk, H, D]; scores q·k·{@code scale}, plus
     * bias [H, Lq, Lk] or [B, H, Lq, Lk] when given; keys with keyMask [B, Lk] = 0 are excluded when a
     * mask is given. Returns [B, Lq, H, D].
     */
    T attention(T q, T k, T v, float scale, T bias /* nullable */, T keyMask /* nullable */);

    /** Frees a tensor's storage early where the backend holds device memory; a no-op on the CPU. */
    default void release(T t) {}

    // ---- text encoder ----

    /**
     * Row gather: {@code table} [V, D] and host ids (each in [0, V)) give [ids.length, D], row r being
     * {@code table[ids[r]]} (relative-position bias tables; small embedding tables). The default goes
     * through the host ({@link #toHost}, gather, {@link #fromHost}); device backends may override it.
     */
    default T embedding(T table, int[] ids) {
        return fromHost(Gather.rows(toHost(table), ids));
    }
}
