package io.sparserender.engine.pipeline;

/** One clip could not be rendered (out of device memory, NaN in latents, encoder error); others can. */
public final class ClipFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ClipFailedException(String message) {
        super(message);
    }

    public ClipFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
