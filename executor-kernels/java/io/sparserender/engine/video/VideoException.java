package io.sparserender.engine.video;

/** A video that cannot be written or read; the message names the file and the FFmpeg call. */
public class VideoException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public VideoException(String message) {
        super(message);
    }

    public VideoException(String message, Throwable cause) {
        super(message, cause);
    }
}
