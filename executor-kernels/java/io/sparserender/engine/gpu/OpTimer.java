package io.sparserender.engine.gpu;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
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
    private final Map<String, Launches> byLaunch = new HashMap<>();
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
        double t = end.elapsedMsSince(start);
        ms.merge(kind, t, Double::sum);
        calls.merge(kind, 1L, Long::sum);
        String what = device.takeLastLaunch();
        byLaunch.computeIfAbsent(what.isEmpty() ? kind.name().toLowerCase(java.util.Locale.ROOT) : what,
                k -> new Launches(k, kind)).add(t);
    }

    /**
     * The device time of every kind of launch seen, the longest first: an operation is named by the last launch it
     * made (a kernel's name, or a library GEMM with its shape), so one made of several kernels counts under its last.
     */
    public List<Launches> byLaunch() {
        List<Launches> l = new ArrayList<>(byLaunch.values());
        l.sort(Comparator.comparingDouble(Launches::milliseconds).reversed());
        return l;
    }

    /** The launches of one kernel (or one GEMM shape): how many and their summed device time. */
    public static final class Launches {
        private final String what;
        private final Kind kind;
        private long calls;
        private double ms;

        Launches(String what, Kind kind) {
            this.what = what;
            this.kind = kind;
        }

        void add(double t) {
            calls++;
            ms += t;
        }

        public String what() {
            return what;
        }

        public Kind kind() {
            return kind;
        }

        public long calls() {
            return calls;
        }

        public double milliseconds() {
            return ms;
        }
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
        byLaunch.clear();
    }
}
