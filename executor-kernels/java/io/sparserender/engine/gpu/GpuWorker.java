package io.sparserender.engine.gpu;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The one thread that owns a device's CUDA context and runs every piece of GPU work, whichever
 * thread submits it: CUDA contexts are bound to threads, and Spark's task threads come and go.
 * Work submitted from the worker itself runs inline, so GPU code may call GPU code.
 */
final class GpuWorker implements AutoCloseable {
    private final ExecutorService executor;
    private volatile Thread thread;

    GpuWorker(String name) {
        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            thread = t;
            return t;
        });
    }

    boolean onWorker() {
        return Thread.currentThread() == thread;
    }

    /** Runs the task on the worker and waits for it; its exception is rethrown here. */
    <T> T call(Callable<T> task) {
        if (onWorker()) {
            try {
                return task.call();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new GpuException(e.getMessage(), e);
            }
        }
        Future<T> f = executor.submit(task);
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GpuException("Interrupted while waiting for the GPU worker", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException) {
                throw (RuntimeException) c;
            }
            if (c instanceof Error) {
                throw (Error) c;
            }
            throw new GpuException(String.valueOf(c.getMessage()), c);
        }
    }

    void run(Runnable task) {
        call(() -> {
            task.run();
            return null;
        });
    }

    /** Submits without waiting. */
    <T> Future<T> submit(Callable<T> task) {
        return executor.submit(task);
    }

    @Override
    public void close() {
        executor.shutdown();
        try {
            executor.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
