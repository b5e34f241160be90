package io.sparserender.engine.gpu;

import java.util.EnumMap;
import java.util.Map;

/**
 * Device time per kind of operation, for the benchmarks' split of a forward (GEMMs, attention, the rest).
 * An active timer brackets every launch with events and waits for them, so it serialises host and device:
 * use it for the split, and time the total in a separate, untimed run. {@link #OFF} just launches.
 */
public class OpTimer {
    /** What an operation counts as. */
    public enum Kind { GEMM, ATTENTION, OTHER }

    /** Launches without timing. */
    public static final OpTimer OFF = new OpTimer() {
        @Override
        public void time(CudaDevice device, Kind kind, Runnable launch) {
            launch.run();
        }
    };

    private final Map<Kind, Double> ms = new EnumMap<>(Kind.class);
    private final Map<Kind, Long> calls = new EnumMap<>(Kind.class);
    private CudaEvent start;
    private CudaEvent end;

    /** Runs {@code launch} and adds the device time between its first and last enqueued work to {@code kind}. */
    public void time(CudaDevice device, Kind kind, Runnable launch) {
        if (start == null) {
            start = device.newEvent();
            end = device.newEvent();
        }
        start.record();
        launch.run();
        end.record();
        ms.merge(kind, (double) end.elapsedMsSince(start), Double::sum);
        calls.merge(kind, 1L, Long::sum);
    }

    public double milliseconds(Kind kind) {
        return ms.getOrDefault(kind, 0.0);
    }

    public long calls(Kind kind) {
        return calls.getOrDefault(kind, 0L);
    }

    public void reset() {
        ms.clear();
        calls.clear();
    }
}
