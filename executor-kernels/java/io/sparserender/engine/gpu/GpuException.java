package io.sparserender.engine.gpu;

/**
 * A CUDA backend failure with a message a user can act on: which call failed, for which kernel or
 * buffer, and the driver's error name. Refusals at start (no driver, no device, index out of range,
 * kernels not covering the device) are GpuExceptions too.
 */
public class GpuException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public GpuException(String message) {
        super(message);
    }

    public GpuException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Device memory could not be had: says how much was asked and how much was free. */
    public static final class OutOfDeviceMemory extends GpuException {
        private static final long serialVersionUID = 1L;
        private final long askedBytes;
        private final long freeBytes;

        public OutOfDeviceMemory(String what, long askedBytes, long freeBytes) {
            super("Out of device memory: " + what + " asked " + mib(askedBytes) + ", " + mib(freeBytes) + " free");
            this.askedBytes = askedBytes;
            this.freeBytes = freeBytes;
        }

        public long askedBytes() {
            return askedBytes;
        }

        public long freeBytes() {
            return freeBytes;
        }
    }

    static String mib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%,d bytes (%.1f MiB)", bytes, bytes / 1048576.0);
    }
}
