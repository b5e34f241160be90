package io.sparserender.engine.ops;

import java.util.Objects;

/**
 * Something loaded into a backend's memory that can wait in host memory while it is not used
 * ({@link Ops#parkable}): the text encoder between prompts, so the DiT and the VAE have its device memory.
 * {@link #get} unparks it first when parked (a host-to-device copy of its bytes on the CUDA backend; nothing
 * on the CPU); {@link #park} frees its device memory (the host copy is made once, the first time: weights do
 * not change). Only the owner of the thing uses it: the renderer, one clip at a time.
 */
public final class Parkable<R> {
    /** How a backend moves the memory: both run on the backend's thread. */
    public interface Mover {
        /** Frees the device memory; false (nothing done) when it cannot now, e.g. other memory above it is in use. */
        boolean park();

        void unpark();

        /** Makes now whatever the first {@link #park} would make for the host side (the CUDA backend's pinned copy). */
        default void prepare() {}
    }

    private final R value;
    private final Mover mover;
    private boolean parked;

    public Parkable(R value, Mover mover) {
        this.value = Objects.requireNonNull(value, "value is null");
        this.mover = Objects.requireNonNull(mover, "mover is null");
    }

    /** A thing that never leaves where it is (the CPU backend). */
    public static <R> Parkable<R> resident(R value) {
        return new Parkable<>(value, new Mover() {
            @Override
            public boolean park() {
                return true;
            }

            @Override
            public void unpark() {}
        });
    }

    /**
     * Readies it for parking without parking it: the CUDA backend pins host memory for its bytes and copies them there
     * now, so its first {@link #park} only frees device memory (on the backend's thread).
     */
    public synchronized void prepareToPark() {
        mover.prepare();
    }

    /** The thing, in device memory (unparked first when parked). */
    public synchronized R get() {
        if (parked) {
            mover.unpark();
            parked = false;
        }
        return value;
    }

    /**
     * Moves it out of device memory until the next {@link #get}; a no-op when already parked. Returns whether
     * it is parked now: false when the backend cannot park it at the moment (it stays usable where it is).
     */
    public synchronized boolean park() {
        if (!parked) {
            parked = mover.park();
        }
        return parked;
    }

    public synchronized boolean isParked() {
        return parked;
    }

    /** The thing without unparking it: for closing it only. */
    public R valueForClose() {
        return value;
    }
}
