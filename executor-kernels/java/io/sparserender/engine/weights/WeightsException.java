package io.sparserender.engine.weights;

/** A weight or tensor file that cannot be used; the message names the file and, where known, the tensor. */
public class WeightsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public WeightsException(String message) {
        super(message);
    }

    public WeightsException(String message, Throwable cause) {
        super(message, cause);
    }
}
