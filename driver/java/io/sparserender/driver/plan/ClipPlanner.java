package io.sparserender.driver.plan;

import io.sparserender.engine.pipeline.ClipSpec;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.function.ToDoubleFunction;

/**
 * Packs clips into Spark partitions of about equal estimated GPU time, longest clips first (the
 * LPT rule: each clip, in falling cost order, goes to the partition with the least work so far).
 * The partition count is the larger of the executor count (every GPU gets work) and total work over
 * the target partition size (a lost executor costs at most one partition), capped by the clip count.
 */
public final class ClipPlanner {
    /** One partition: its clips in the order they run, and their summed estimate in seconds. */
    public record Partition(int index, List<ClipSpec> clips, double seconds) {
        public Partition {
            clips = List.copyOf(clips);
        }
    }

    private final ToDoubleFunction<ClipSpec> secondsPerClip;
    private final double targetPartitionSeconds;

    public ClipPlanner(ToDoubleFunction<ClipSpec> secondsPerClip, double targetPartitionSeconds) {
        if (!(targetPartitionSeconds > 0)) {
            throw new IllegalArgumentException("Invalid target partition size: " + targetPartitionSeconds + " s");
        }
        this.secondsPerClip = secondsPerClip;
        this.targetPartitionSeconds = targetPartitionSeconds;
    }

    public List<Partition> plan(List<ClipSpec> clips, int executors) {
        if (clips.isEmpty()) {
            return List.of();
        }
        List<ClipSpec> sorted = new ArrayList<>(clips);
        double[] cost = new double[sorted.size()];
        double total = 0;
        sorted.sort(Comparator.comparingDouble(secondsPerClip).reversed().thenComparing(ClipSpec::clipId));
        for (int i = 0; i < sorted.size(); i++) {
            cost[i] = secondsPerClip.applyAsDouble(sorted.get(i));
            total += cost[i];
        }
        int n = (int) Math.min(sorted.size(), Math.max(Math.max(1, executors), Math.ceil(total / targetPartitionSeconds)));
        List<List<ClipSpec>> bins = new ArrayList<>();
        double[] load = new double[n];
        PriorityQueue<Integer> lightest = new PriorityQueue<>(
                Comparator.<Integer>comparingDouble(i -> load[i]).thenComparingInt(i -> i));
        for (int i = 0; i < n; i++) {
            bins.add(new ArrayList<>());
            lightest.add(i);
        }
        for (int i = 0; i < sorted.size(); i++) {
            int b = lightest.poll();
            bins.get(b).add(sorted.get(i));
            load[b] += cost[i];
            lightest.add(b);
        }
        List<Partition> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new Partition(i, bins.get(i), load[i]));
        }
        return out;
    }
}
