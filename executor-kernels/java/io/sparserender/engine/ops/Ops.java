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

    /**
     * Uploads a model parameter. Backends may store it in their parameter format (the CUDA backend keeps
     * matrices and convolution kernels in bf16 and vectors in float32); the CPU keeps float32.
     */
    default T parameter(Tensor t) {
        return fromHost(t);
    }

    /**
     * Uploads a parameter of the diffusion transformer, the model whose large products a backend may run in a lower
     * precision (the CUDA backend under {@code GemmPrecision.FP8} keeps an FP8 copy of each large matrix beside it);
     * otherwise as {@link #parameter}. The text encoder and the VAE use {@link #parameter}.
     */
    default T transformerParameter(Tensor t) {
        return parameter(t);
    }

    Tensor toHost(T t);

    int[] shape(T t);

    /** The same elements under another shape with the same element count (a view where possible). */
    T reshape(T t, int... shape);

    /** Reorders dimensions: output dimension i is input dimension {@code axes[i]}. */
    T permute(T t, int... axes);

    /** Elements {@code [start, end)} along {@code dim}. */
    T slice(T t, int dim, int start, int end);

    /** Joins tensors along {@code dim}; other dimensions must match. */
    T concat(int dim, java.util.List<T> parts);

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

    /**
     * Runs {@code body} and returns its result; storage of every other tensor the body created may be
     * reclaimed when it returns (the CUDA backend's stack arena frees it), so the body's intermediate
     * tensors must not be used afterwards. On the CPU it just runs the body.
     */
    default T scoped(java.util.function.Supplier<T> body) {
        return body.get();
    }

    /** Opens a region of this backend's memory (see {@link MemoryRegion}); the CPU's frees nothing itself. */
    default MemoryRegion<T> region() {
        return MemoryRegion.unmanaged();
    }

    /**
     * Runs {@code body} on the thread that owns this backend (the CUDA backend's GPU worker, so launches need
     * no hand-over) and returns its result; the CPU runs it on the calling thread.
     */
    default <R> R run(java.util.function.Supplier<R> body) {
        return body.get();
    }

    /**
     * Loads something (model weights) through {@code load} so that it can be parked in host memory between
     * uses ({@link Parkable}). On the CUDA backend what {@code load} allocates must be the last thing in device
     * memory when it is parked or unparked (nothing allocated after it still alive); the CPU keeps it resident.
     */
    default <R> Parkable<R> parkable(java.util.function.Supplier<R> load) {
        return Parkable.resident(load.get());
    }

    /**
     * Loads several things whose loads allocate the same sequence of shapes (the experts of one model) so that
     * they take turns in one place of device memory ({@link SwapSlot}): the CUDA backend keeps a pinned host copy
     * of each and copies the one asked for over the other; it falls back to keeping all resident when the host
     * cannot pin them. The CPU loads all and keeps them resident. Each load must leave its things as the last
     * allocations in device memory.
     */
    default <R> SwapSlot<R> swapSlot(java.util.List<java.util.function.Supplier<R>> loads) {
        return SwapSlot.allResident(loads.stream().map(java.util.function.Supplier::get).toList());
    }

    /** Device memory this backend holds now, in bytes (0 where the garbage collector manages memory). */
    default long memoryInUse() {
        return 0;
    }

    /** The most device memory held since the last {@link #resetMemoryPeak} (or since start), in bytes. */
    default long memoryPeak() {
        return 0;
    }

    /** Starts a new peak measurement at the memory held now. */
    default void resetMemoryPeak() {}

    // ---- fused compositions: defaults spell out the reference arithmetic; backends may fuse them ----

    /**
     * The DiT's adaptive LayerNorm: n = layerNorm(x) without affine, then (n + n·scale) + shift, with
     * shift and scale broadcast against n.
     */
    default T adaLayerNorm(T x, T shift, T scale, float eps) {
        T n = layerNorm(x, null, null, eps);
        return add(add(n, mul(n, scale)), shift);
    }

    /**
     * geluTanh(linear(x, weight, bias)): a feed-forward layer's first product and its activation, which a
     * backend may fuse (the CUDA backend: in cuBLASLt's epilogue, rounding once).
     */
    default T linearGeluTanh(T x, T weight, T bias /* nullable */) {
        return geluTanh(linear(x, weight, bias));
    }

    /** A gated residual: x + y·gate (gate broadcast against y). */
    default T addGated(T x, T y, T gate) {
        return add(x, mul(y, gate));
    }

    /**
     * The residual stream's update: stream + y, or stream + y·gate when a gate is given. The stream is given
     * up: the caller must not use it afterwards, and a backend may write the result over it (the CUDA
     * backend does when the result has the stream's shape and dtype: no new memory, nothing to move when
     * the block's memory scope closes).
     */
    default T updateResidual(T stream, T y, T gate /* nullable */) {
        return gate == null ? add(stream, y) : addGated(stream, y, gate);
    }

    /**
     * layerNorm(x, gamma, beta, eps) whose result only feeds matrix products: a backend may store it at its
     * products' operand precision (the CUDA backend: bf16, as {@link #adaLayerNorm}), saving a conversion.
     */
    default T layerNormForProduct(T x, T gamma /* nullable */, T beta /* nullable */, float eps) {
        return layerNorm(x, gamma, beta, eps);
    }

    /**
     * rope(RMSNorm(x)·gamma split into heads): x [B, L, H·D] is RMS-normalised over its whole last dimension,
     * then read as [B, L, H, D] and rotated as {@link #rope} does, with cos and sin [L, 1, D/2, 1]. Returns
     * [B, L, H, D]. x is given up: a backend may write the result over it.
     */
    default T rmsNormRope(T x, T gamma /* nullable */, float eps, T cos, T sin, int heads) {
        int[] s = shape(x);
        return rope(reshape(rmsNorm(x, gamma, eps), s[0], s[1], heads, s[2] / heads), cos, sin);
    }

    /**
     * Rotary embedding of interleaved pairs: x [B, L, H, D] is read as D/2 pairs (a, b) per head, rotated to
     * (a·cos − b·sin, a·sin + b·cos) with cos and sin [L, 1, D/2, 1] (one angle per token and pair).
     */
    default T rope(T x, T cos, T sin) {
        int[] s = shape(x);
        T pairs = reshape(x, s[0], s[1], s[2], s[3] / 2, 2);
        T a = slice(pairs, 4, 0, 1);
        T b = slice(pairs, 4, 1, 2);
        T ra = sub(mul(a, cos), mul(b, sin));
        T rb = add(mul(a, sin), mul(b, cos));
        return reshape(concat(4, java.util.List.of(ra, rb)), s);
    }

    // ---- VAE ----
    // Video tensors are channels-first, one sample: [C, T, H, W] (the diffusers layout less the batch
    // dimension, which model code loops over). Causal time padding and the per-conv frame cache are the
    // model's: it concatenates cached frames in front of a chunk and calls conv3d valid in time.
    // The defaults compute on the host through CpuOps (correct, slow: a round trip per call) so that a backend
    // without its own kernels still runs the VAE; CpuOps and fast backends override them.

    /** A new tensor of zeros. */
    default T zeros(int... shape) {
        return fromHost(Tensor.zeros(shape));
    }

    /**
     * 3D convolution, stride 1, valid in time, zero padding {@code padH}/{@code padW} in space:
     * x [C, T, H, W], weight [O, C, kt, kh, kw], bias [O] when given; returns
     * [O, T − kt + 1, H + 2·padH − kh + 1, W + 2·padW − kw + 1]. A 2D convolution per frame is kt = 1.
     */
    default T conv3d(T x, T weight, T bias /* nullable */, int padH, int padW) {
        return fromHost(HostFallback.CPU.conv3d(toHost(x), toHost(weight), bias == null ? null : toHost(bias), padH, padW));
    }

    /**
     * RMS norm over dimension 0 (channels) as the Wan VAE writes it: x / max(‖x‖₂, 1e-12) · √C · gamma[c],
     * plus beta[c] when given; x [C, ...], gamma and beta [C].
     */
    default T channelRmsNorm(T x, T gamma, T beta /* nullable */) {
        return fromHost(HostFallback.CPU.channelRmsNorm(toHost(x), toHost(gamma), beta == null ? null : toHost(beta)));
    }

    /** SiLU of {@link #channelRmsNorm} (the VAE residual blocks' norm → activation); a backend may fuse the two passes. */
    default T channelRmsNormSilu(T x, T gamma, T beta /* nullable */) {
        T normed = channelRmsNorm(x, gamma, beta);
        T y = silu(normed);
        release(normed);
        return y;
    }

    /** Nearest-neighbour ×2 upsampling of the last two dimensions: [..., H, W] → [..., 2H, 2W]. */
    default T upsampleNearest2x(T x) {
        return fromHost(HostFallback.CPU.upsampleNearest2x(toHost(x)));
    }

    /** Repeats every slice along {@code dim} {@code repeats} times in a row (torch.repeat_interleave). */
    default T repeatInterleave(T x, int dim, int repeats) {
        return fromHost(HostFallback.CPU.repeatInterleave(toHost(x), dim, repeats));
    }

    /** min(max(x, lo), hi) elementwise. */
    default T clamp(T x, float lo, float hi) {
        return fromHost(HostFallback.CPU.clamp(toHost(x), lo, hi));
    }

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
