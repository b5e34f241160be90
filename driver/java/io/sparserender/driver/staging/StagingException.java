package io.sparserender.driver.staging;

/** A model cannot be staged or its staged copy cannot be trusted; the message names the model and the file. */
public final class StagingException extends RuntimeException {
    public StagingException(String message) {
        super(message);
    }

    public StagingException(String message, Throwable cause) {
        super(message, cause);
    }
}
