package io.sparserender.engine.vae;

import io.sparserender.engine.ops.Ops;
import java.util.Arrays;

/**
 * The state of one chunked decode: for every causal conv with a time kernel of kt = 3, the last kt − 1 = 2
 * frames of its input stream (zeros before the first frame, as the causal padding defines). Its size is
 * fixed by the model and the frame size, never by the number of chunks decoded.
 */
public final class CausalConvCache<T> {
    private final Ops<T> ops;
    private final Object[] slots;

    public CausalConvCache(Ops<T> ops, int slots) {
        this.ops = ops;
        this.slots = new Object[slots];
    }

    @SuppressWarnings("unchecked")
    T get(int slot) {
        return (T) slots[slot];
    }

    void put(int slot, T frames) {
        @SuppressWarnings("unchecked")
        T old = (T) slots[slot];
        slots[slot] = frames;
        if (old != null && old != frames) {
            ops.release(old);
        }
    }

    public int slots() {
        return slots.length;
    }

    /** Slots holding frames (convs that have seen at least one chunk). */
    public int filledSlots() {
        return (int) Arrays.stream(slots).filter(s -> s != null).count();
    }

    /** Elements held across all slots. */
    public long cachedElements() {
        long n = 0;
        for (int i = 0; i < slots.length; i++) {
            T t = get(i);
            if (t != null) {
                n += Arrays.stream(ops.shape(t)).asLongStream().reduce(1, (a, b) -> a * b);
            }
        }
        return n;
    }

    /** Frames held across all slots (the time dimension of each [C, T, H, W] entry). */
    public int cachedFrames() {
        int n = 0;
        for (int i = 0; i < slots.length; i++) {
            T t = get(i);
            if (t != null) {
                n += ops.shape(t)[1];
            }
        }
        return n;
    }

    /** Every slot's frames in slot order (null for an empty slot). */
    java.util.List<T> entries() {
        java.util.List<T> out = new java.util.ArrayList<>();
        for (int i = 0; i < slots.length; i++) {
            out.add(get(i));
        }
        return out;
    }

    /** Replaces every slot with the same frames moved by a memory compaction (no release: they are the same values). */
    void replaceEntries(java.util.List<T> moved) {
        for (int i = 0; i < slots.length; i++) {
            slots[i] = moved.get(i);
        }
    }

    /** Drops every slot (a new clip starts from zeros). */
    public void clear() {
        for (int i = 0; i < slots.length; i++) {
            put(i, null);
        }
    }
}
