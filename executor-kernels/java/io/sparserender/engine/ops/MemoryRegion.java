package io.sparserender.engine.ops;

import java.util.List;

/**
 * A region of a backend's memory ({@link Ops#region}): every tensor created while it is open belongs to
 * it. {@link #compact} frees all of them but the ones named, {@link #close} frees all. On the CPU both are
 * no-ops (the garbage collector frees); on the CUDA backend this is how a loop (denoising steps, VAE
 * chunks) keeps its device memory flat.
 */
public interface MemoryRegion<T> extends AutoCloseable {
    /**
     * Frees every tensor of this region except {@code keep}, which stay in the region and are returned as
     * equal tensors in the same order (the old references must not be used again; tensors from outside the
     * region come back as they are).
     */
    List<T> compact(List<T> keep);

    /**
     * Closes the region keeping only {@code keep}, returned as an equal tensor that now belongs to whatever
     * encloses the region (the old reference must not be used again).
     */
    T closeKeeping(T keep);

    /** Frees every tensor of this region. */
    @Override
    void close();

    /** The region of a backend whose memory the garbage collector manages. */
    static <T> MemoryRegion<T> unmanaged() {
        return new MemoryRegion<>() {
            @Override
            public List<T> compact(List<T> keep) {
                return keep;
            }

            @Override
            public T closeKeeping(T keep) {
                return keep;
            }

            @Override
            public void close() {}
        };
    }
}
