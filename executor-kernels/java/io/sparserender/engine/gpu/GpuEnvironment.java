package io.sparserender.engine.gpu;

import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuInit;

import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import jcuda.CudaException;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * What this host offers the CUDA backend: the NVIDIA driver, visible devices, and whether a
 * cuBLASLt library is present. Never throws: a host without a driver is a normal answer.
 *
 * <p>JCuda throws {@code UnsatisfiedLinkError} at the first driver call when {@code libcuda.so.1} is
 * missing and {@code NoClassDefFoundError} at every later one; both are caught here, once, and kept.
 */
public final class GpuEnvironment {
    /** One visible device. */
    public record Device(int index, String name, int ccMajor, int ccMinor, long totalMemoryBytes) {
        public String computeCapability() {
            return ccMajor + "." + ccMinor;
        }
    }

    private static volatile GpuEnvironment probed;

    private final Optional<String> driverProblem;
    private final int driverVersion;
    private final List<Device> devices;

    private GpuEnvironment(Optional<String> driverProblem, int driverVersion, List<Device> devices) {
        this.driverProblem = driverProblem;
        this.driverVersion = driverVersion;
        this.devices = List.copyOf(devices);
    }

    /** Probes the driver once per JVM. */
    public static GpuEnvironment probe() {
        GpuEnvironment p = probed;
        if (p == null) {
            synchronized (GpuEnvironment.class) {
                if (probed == null) {
                    probed = doProbe();
                }
                p = probed;
            }
        }
        return p;
    }

    private static GpuEnvironment doProbe() {
        try {
            JCudaNatives.extract(); // before JCuda's first class load: executors of one host start together
        } catch (java.io.UncheckedIOException e) {
            // JCuda then tries to write the library itself, and reports why it cannot
        }
        try {
            JCudaDriver.setExceptionsEnabled(false); // every result is checked by CudaCheck instead
            int init = cuInit(0);
            if (init == CUresult.CUDA_ERROR_NO_DEVICE) {
                int[] version = {0};
                cuDriverGetVersion(version);
                return new GpuEnvironment(Optional.empty(), version[0], List.of());
            }
            CudaCheck.check(init, "cuInit", "driver start");
            int[] version = {0};
            CudaCheck.check(cuDriverGetVersion(version), "cuDriverGetVersion", "driver start");
            int[] count = {0};
            CudaCheck.check(cuDeviceGetCount(count), "cuDeviceGetCount", "driver start");
            List<Device> devices = new ArrayList<>();
            for (int i = 0; i < count[0]; i++) {
                String what = "device " + i;
                CUdevice dev = new CUdevice();
                CudaCheck.check(cuDeviceGet(dev, i), "cuDeviceGet", what);
                byte[] name = new byte[256];
                CudaCheck.check(cuDeviceGetName(name, name.length, dev), "cuDeviceGetName", what);
                int[] major = {0};
                int[] minor = {0};
                CudaCheck.check(cuDeviceGetAttribute(major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev),
                        "cuDeviceGetAttribute", what);
                CudaCheck.check(cuDeviceGetAttribute(minor, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev),
                        "cuDeviceGetAttribute", what);
                long[] mem = {0};
                CudaCheck.check(cuDeviceTotalMem(mem, dev), "cuDeviceTotalMem", what);
                devices.add(new Device(i, cString(name), major[0], minor[0], mem[0]));
            }
            return new GpuEnvironment(Optional.empty(), version[0], devices);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            return new GpuEnvironment(Optional.of("NVIDIA driver not found (libcuda.so.1 cannot be loaded)"), 0, List.of());
        } catch (GpuException | CudaException e) {
            return new GpuEnvironment(Optional.of("CUDA driver refused to start: " + e.getMessage()), 0, List.of());
        }
    }

    public boolean driverAvailable() {
        return driverProblem.isEmpty();
    }

    /** Why the driver cannot be used, when it cannot. */
    public Optional<String> driverProblem() {
        return driverProblem;
    }

    /** The driver's CUDA version as major.minor, e.g. "13.0". */
    public String driverCudaVersion() {
        return driverVersion / 1000 + "." + (driverVersion % 1000) / 10;
    }

    public List<Device> devices() {
        return devices;
    }

    /** The first cuBLASLt shared library found on the loader's search path, if any. */
    public static Optional<String> findCublasLt() {
        List<String> c = cublasLtCandidates();
        return c.isEmpty() || !c.get(0).startsWith("/") ? Optional.empty() : Optional.of(c.get(0));
    }

    /**
     * Where cuBLASLt may be, best first: {@code SPARSE_RENDER_CUBLASLT} if set, then every
     * {@code libcublasLt.so.N} in LD_LIBRARY_PATH, CUDA_HOME and the usual library folders (newest major
     * first), then the bare sonames 13, 12, 11 for the dynamic loader's own search (ldconfig cache).
     */
    public static List<String> cublasLtCandidates() {
        List<String> out = new ArrayList<>();
        String explicit = System.getenv("SPARSE_RENDER_CUBLASLT");
        if (explicit != null && !explicit.isBlank()) {
            out.add(explicit);
        }
        Set<String> dirs = new LinkedHashSet<>();
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) {
            for (String d : ld.split(":")) {
                if (!d.isBlank()) {
                    dirs.add(d);
                }
            }
        }
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null) {
            dirs.add(cudaHome + "/lib64");
        }
        dirs.addAll(List.of("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
                "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"));
        for (String d : dirs) {
            File[] found = new File(d).listFiles((dir, n) -> n.matches("libcublasLt\\.so\\.\\d+"));
            if (found != null && found.length > 0) {
                java.util.Arrays.sort(found, java.util.Comparator.comparingInt(
                        (File f) -> Integer.parseInt(f.getName().substring(f.getName().lastIndexOf('.') + 1))).reversed());
                for (File f : found) {
                    out.add(f.getAbsolutePath());
                }
            }
        }
        for (String major : new String[] {"13", "12", "11"}) {
            out.add("libcublasLt.so." + major);
        }
        return out;
    }

    private static String cString(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, java.nio.charset.StandardCharsets.UTF_8);
    }
}
