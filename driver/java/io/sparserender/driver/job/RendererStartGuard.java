package io.sparserender.driver.job;

import io.sparserender.driver.executor.RendererStartException;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * Ends the render job at the first task an executor refused because its renderer did not start
 * ({@link RendererStartException}): Spark would otherwise retry the task on every executor, each
 * failing the same way, and report only "failed N times". The job group is cancelled and the executor's
 * message (file and tensor named) kept for the driver's error.
 */
final class RendererStartGuard extends SparkListener {
    private final SparkContext sc;
    private final String jobGroup;
    private volatile String failure;

    RendererStartGuard(SparkContext sc, String jobGroup) {
        this.sc = sc;
        this.jobGroup = jobGroup;
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (failure == null && end.reason() instanceof ExceptionFailure ef
                && ef.className().equals(RendererStartException.class.getName())) {
            failure = "on executor " + end.taskInfo().executorId() + ": " + ef.description();
            sc.cancelJobGroup(jobGroup, "the renderer did not start");
        }
    }

    /**
     * Why the job failed, when it was a renderer start: from the listener, or (when the job ended before the
     * listener saw the event) from the first line of Spark's error that carries the executor's message.
     */
    String failure(Throwable jobError) {
        if (failure != null) {
            return failure;
        }
        for (Throwable t = jobError; t != null; t = t.getCause()) {
            String m = t.getMessage();
            int at = m == null ? -1 : m.indexOf(RendererStartException.PREFIX);
            if (at >= 0) {
                int end = m.indexOf('\n', at);
                return m.substring(at, end < 0 ? m.length() : end);
            }
        }
        return null;
    }
}
