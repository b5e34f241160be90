package io.sparserender.engine.gpu;

import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Which device this JVM uses. The spec is what Spark assigned ({@code "1"}) or a
 * {@code CUDA_VISIBLE_DEVICES}-style list ({@code "2,3"}: this JVM takes the first), counted among the
 * devices the driver makes visible; empty means device 0. Pure: tested without a GPU.
 */
public final class DeviceSelector {
    /** Environment variable and system property that name the device when nothing else does. */
    public static final String ENV = "SPARSE_RENDER_GPU";
    public static final String PROPERTY = "sparserender.gpu.device";

    private DeviceSelector() {}

    /** The spec from the system property, else the environment, else empty (device 0). */
    public static Optional<String> configured() {
        String p = System.getProperty(PROPERTY);
        if (p != null && !p.isBlank()) {
            return Optional.of(p.trim());
        }
        String e = System.getenv(ENV);
        return e == null || e.isBlank() ? Optional.empty() : Optional.of(e.trim());
    }

    /** Parses a spec into a device index. */
    public static int parse(String spec) {
        if (spec == null || spec.isBlank()) {
            return 0;
        }
        String first = spec.split(",", -1)[0].trim();
        if (first.startsWith("gpu:")) {
            first = first.substring(4);
        }
        try {
            int i = Integer.parseInt(first);
            if (i < 0) {
                throw new NumberFormatException();
            }
            return i;
        } catch (NumberFormatException e) {
            throw new GpuException("Invalid CUDA device '" + spec + "': expected a device index such as 0, or a list such as 2,3");
        }
    }

    /**
     * The device at {@code index}, or the refusal: no driver, no device, index out of range.
     */
    public static GpuEnvironment.Device select(int index, Optional<String> driverProblem, List<GpuEnvironment.Device> visible) {
        if (driverProblem.isPresent()) {
            throw new GpuException("No CUDA device: " + driverProblem.get()
                    + ". Run on a host with the NVIDIA driver, or use the CPU backend.");
        }
        String cvd = System.getenv("CUDA_VISIBLE_DEVICES");
        String cvdNote = cvd == null ? "" : " (CUDA_VISIBLE_DEVICES=" + cvd + ")";
        if (visible.isEmpty()) {
            throw new GpuException("No CUDA device: the NVIDIA driver sees no device" + cvdNote);
        }
        if (index < 0 || index >= visible.size()) {
            throw new GpuException("CUDA device index " + index + " is out of range: " + visible.size() + " device"
                    + (visible.size() == 1 ? "" : "s") + " visible" + cvdNote + ": "
                    + visible.stream().map(d -> d.index() + " = " + d.name()).collect(Collectors.joining(", ")));
        }
        return visible.get(index);
    }
}
