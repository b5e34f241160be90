package io.sparserender.engine.ops;

import java.util.List;
import java.util.Objects;

/**
 * Several things with the same memory layout that take turns in one place of a backend's memory
 * ({@link Ops#swapSlot}): the two experts of Wan 2.2 A14B, so one 80 GB card holds one expert's weights
 * while the other waits in pinned host memory. {@link #get} makes the asked-for one resident first (on the
 * CUDA backend a host-to-device copy of its bytes over the other's); a thing that is not resident must not
 * be used, so its owner asks through {@link #get} every time. On the CPU every thing stays resident.
 */
public final class SwapSlot<R> {
    /** How a backend brings thing {@code i} into the shared memory (on the backend's thread). */
    public interface Loader {
        void bringIn(int i);
    }

    private final List<R> values;
    private final Loader loader;
    private int resident;
    private int swaps;
    private long swapNanos;

    /**
     * @param resident which of {@code values} is in the shared memory now
     * @param loader   null when every value is resident at once (nothing shared)
     */
    public SwapSlot(List<R> values, int resident, Loader loader) {
        this.values = List.copyOf(values);
        if (this.values.isEmpty()) {
            throw new IllegalArgumentException("A swap slot needs at least one value");
        }
        if (resident < 0 || resident >= this.values.size()) {
            throw new IllegalArgumentException("Invalid resident index " + resident + " of " + this.values.size() + " values");
        }
        this.resident = resident;
        this.loader = loader;
    }

    /** Values that all stay where they are (the CPU backend, or a device that could not share). */
    public static <R> SwapSlot<R> allResident(List<R> values) {
        return new SwapSlot<>(values, 0, null);
    }

    /** Value {@code i}, resident (brought in first when another one held the memory). */
    public synchronized R get(int i) {
        Objects.checkIndex(i, values.size());
        if (loader != null && i != resident) {
            long t0 = System.nanoTime();
            loader.bringIn(i);
            swapNanos += System.nanoTime() - t0;
            resident = i;
            swaps++;
        }
        return values.get(i);
    }

    /** Which value is in the shared memory now (0 when nothing is shared). */
    public synchronized int residentIndex() {
        return resident;
    }

    public int size() {
        return values.size();
    }

    /** Whether the values share one place of memory (else all are resident at once). */
    public boolean shared() {
        return loader != null;
    }

    /** How many times a value was brought in over another. */
    public synchronized int swaps() {
        return swaps;
    }

    /** Seconds spent bringing values in, in total (the copies are synchronous). */
    public synchronized double swapSeconds() {
        return swapNanos * 1e-9;
    }

    /** The values without bringing any in: for closing them only. */
    public List<R> valuesForClose() {
        return values;
    }
}
