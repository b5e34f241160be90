package io.sparserender.driver.executor;

/**
 * This executor's renderer could not start (corrupt or mismatched weights, no usable device): every
 * task on the executor fails with it, and the driver ends the whole run with this message at the first
 * one (the model is the same everywhere, so retrying elsewhere would only repeat the failure).
 */
public final class RendererStartException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** How every message starts, so the driver can recognise the failure in a task's error. */
    public static final String PREFIX = "Cannot start the renderer";

    public RendererStartException(String message, Throwable cause) {
        super(message, cause);
    }

    static RendererStartException of(RendererSettings settings, Throwable cause) {
        return new RendererStartException(PREFIX + " (model " + settings.model() + ", backend " + settings.backend()
                + "): " + cause.getMessage(), cause);
    }
}
