package io.sparserender.engine.gpu;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuPointerGetAttribute;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import io.sparserender.engine.tensor.DType;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUpointer_attribute;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;

/**
 * One CUDA device in this JVM: its primary context (retained once per JVM), the GPU worker thread
 * that owns it, the packed kernels, the compute stream, the device-memory arena and the chosen GEMM.
 * Obtained with {@link #open}; the same instance is returned for the same index until closed (with
 * the options of the first open: one executor JVM opens its device once, at start).
 *
 * <p>Refuses clearly, before touching the device: no driver, no device, index out of range,
 * no kernels packed, kernels not covering the device's architecture, arena larger than free memory.
 */
public final class CudaDevice implements AutoCloseable {
    /** How to open a device. */
    public record Options(
            String deviceSpec,       // Spark's address or a CUDA_VISIBLE_DEVICES-style list; null: configured or 0
            long arenaBytes,         // device memory reserved at start for the arena; <= 0: all free memory but a reserve
            boolean checkEveryLaunch, // synchronize after each launch, so an async fault names its kernel (tests)
            GemmChoice gemm) {       // which matrix product implementation
        public static Options defaults() {
            return new Options(null, 1L << 30, Boolean.getBoolean("sparserender.gpu.checkEveryLaunch"), GemmChoice.configured());
        }

        public Options withArenaBytes(long bytes) {
            return new Options(deviceSpec, bytes, checkEveryLaunch, gemm);
        }

        public Options withCheckEveryLaunch(boolean on) {
            return new Options(deviceSpec, arenaBytes, on, gemm);
        }

        public Options withDevice(String spec) {
            return new Options(spec, arenaBytes, checkEveryLaunch, gemm);
        }

        public Options withGemm(GemmChoice g) {
            return new Options(deviceSpec, arenaBytes, checkEveryLaunch, g);
        }
    }

    /** Left free beside an arena that takes "all" memory: cuBLASLt's workspace, the context, other libraries. */
    static final long ARENA_RESERVE_BYTES = 2L << 30;

    /** auto: cuBLASLt when usable, else the own kernel; or one forced (property sparserender.gemm). */
    public enum GemmChoice {
        AUTO, CUBLASLT, OWN;

        public static GemmChoice configured() {
            String v = System.getProperty("sparserender.gemm", System.getenv().getOrDefault("SPARSE_RENDER_GEMM", "auto"));
            try {
                return valueOf(v.trim().toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new GpuException("Invalid GEMM choice '" + v + "': expected auto, cublaslt or own");
            }
        }
    }

    private static final Map<Integer, CudaDevice> OPEN = new HashMap<>();

    private final GpuEnvironment.Device info;
    private final Options options;
    private final GpuWorker worker;
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUstream stream = new CUstream();
    private final EpilogueBiases epilogueBiases = new EpilogueBiases();
    private final Fp8Weights fp8Weights = new Fp8Weights();
    private KernelModule kernels;
    private DeviceArena arena;
    private int multiprocessors;
    private OwnGemm ownGemm;
    private OwnGemm ownGemmMmaSync;
    private Optional<CublasLtGemm> cublasLt = Optional.empty();
    private String cublasLtProblem = "";
    /** What the last launch on this device ran (a kernel's name, or a GEMM's shape): read by {@link OpTimer}. */
    private String lastLaunch = "";
    private Gemm gemm;
    private boolean closed;

    private volatile String uuid = "unknown";

    private CudaDevice(GpuEnvironment.Device info, Options options) {
        this.info = info;
        this.options = options;
        this.worker = new GpuWorker("sparse-render-gpu-" + info.index());
    }

    /** Opens (or returns the already open) device named by the options. */
    public static CudaDevice open(Options options) {
        GpuEnvironment env = GpuEnvironment.probe();
        int index = DeviceSelector.parse(options.deviceSpec() != null ? options.deviceSpec()
                : DeviceSelector.configured().orElse(null));
        GpuEnvironment.Device info = DeviceSelector.select(index, env.driverProblem(), env.devices());
        FatbinImage image = requireKernelsCover(info, FatbinImage.packed());
        synchronized (OPEN) {
            CudaDevice d = OPEN.get(info.index());
            if (d != null) {
                return d;
            }
            d = new CudaDevice(info, options);
            try {
                CudaDevice self = d;
                d.worker.run(() -> self.start(image));
            } catch (RuntimeException | Error e) {
                d.worker.run(d::stop);
                d.worker.close();
                throw e;
            }
            OPEN.put(info.index(), d);
            return d;
        }
    }

    public static CudaDevice open() {
        return open(Options.defaults());
    }

    /** The packed image if it can run on the device; otherwise the refusal, naming what is packed. */
    public static FatbinImage requireKernelsCover(GpuEnvironment.Device d, Optional<FatbinImage> packed) {
        FatbinImage image = packed.orElseThrow(() -> new GpuException("No CUDA kernels in this build: nvcc was not on the "
                + "PATH when the jar was built (rebuild on a machine with the CUDA toolkit)"));
        if (!image.supports(d.ccMajor(), d.ccMinor())) {
            throw new GpuException("The packed CUDA kernels do not cover device " + d.index() + " (" + d.name()
                    + ", compute capability " + d.computeCapability() + "): packed "
                    + String.join(" ", image.targets().stream().map(Object::toString).toList()));
        }
        return image;
    }

    // ---- start and stop, on the worker

    private void start(FatbinImage image) {
        String what = "device " + info.index() + " (" + info.name() + ")";
        CudaCheck.check(cuDeviceGet(device, info.index()), "cuDeviceGet", what);
        CudaCheck.check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain", what);
        CudaCheck.check(cuCtxSetCurrent(context), "cuCtxSetCurrent", what);
        int[] sms = {0};
        CudaCheck.check(cuDeviceGetAttribute(sms, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device),
                "cuDeviceGetAttribute(MULTIPROCESSOR_COUNT)", what);
        multiprocessors = sms[0];
        jcuda.driver.CUuuid u = new jcuda.driver.CUuuid();
        if (jcuda.driver.JCudaDriver.cuDeviceGetUuid(u, device) == 0) {
            uuid = formatUuid(u.bytes);
        }
        // A blocking stream: ordered with the synchronous copies, which run on the legacy default stream.
        CudaCheck.check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT), "cuStreamCreate", what);
        kernels = new KernelModule(image, OwnGemm.isHopper(info));

        long[] free = {0};
        long[] total = {0};
        CudaCheck.check(cuMemGetInfo(free, total), "cuMemGetInfo", what);
        long arenaBytes = options.arenaBytes() > 0 ? options.arenaBytes()
                : free[0] - Math.max(ARENA_RESERVE_BYTES, total[0] / 20);
        if (arenaBytes <= 0 || arenaBytes > free[0]) {
            throw new GpuException.OutOfDeviceMemory("the arena of " + what, Math.max(arenaBytes, options.arenaBytes()), free[0]);
        }
        CUdeviceptr base = new CUdeviceptr();
        int r = cuMemAlloc(base, arenaBytes);
        if (r != 0) {
            long[] f = {0};
            cuMemGetInfo(f, total);
            throw new GpuException.OutOfDeviceMemory("the arena of " + what + " (" + CudaCheck.message(r, "cuMemAlloc", "arena") + ")",
                    arenaBytes, f[0]);
        }
        long[] address = {0};
        CudaCheck.check(cuPointerGetAttribute(Pointer.to(address), CUpointer_attribute.CU_POINTER_ATTRIBUTE_DEVICE_POINTER, base),
                "cuPointerGetAttribute(DEVICE_POINTER)", "arena");
        arena = new DeviceArena(this, base, address[0], arenaBytes);
        counters = arena.allocate(DType.I32, COUNTER_SLOTS * COUNTER_SLOT_INTS); // outside any scope: lives with the device

        ownGemm = new OwnGemm(this, true);
        ownGemmMmaSync = new OwnGemm(this, false);
        if (options.gemm() != GemmChoice.OWN) {
            try {
                cublasLt = Optional.of(new CublasLtGemm(this));
            } catch (GpuException e) {
                cublasLtProblem = e.getMessage();
                if (options.gemm() == GemmChoice.CUBLASLT) {
                    throw e;
                }
            }
        } else {
            cublasLtProblem = "not tried (GEMM forced to own)";
        }
        gemm = cublasLt.<Gemm>map(g -> g).orElse(ownGemm);
    }

    /** Slots of {@link #counters()}: per-call device counters read back together (one sync per batch of calls). */
    public static final int COUNTER_SLOTS = 256;
    /** I32 words per counter slot (the attention kernels' four 64-bit counters). */
    public static final int COUNTER_SLOT_INTS = 8;
    private DeviceBuffer counters;

    /**
     * A small I32 buffer made with the arena and never freed, {@link #COUNTER_SLOTS} slots of
     * {@link #COUNTER_SLOT_INTS}: where the DiT's attention calls accumulate their tile counters so they can be
     * read back once per batch of calls instead of after each. One user at a time (the clip renderer).
     */
    public DeviceBuffer counters() {
        return counters;
    }

    private void stop() {
        cublasLt.ifPresent(CublasLtGemm::destroy);
        if (arena != null) {
            arena.freeHostCopies();
            cuMemFree(arena.base());
        }
        if (kernels != null) {
            kernels.unload();
        }
        cuStreamDestroy(stream);
        cuDevicePrimaryCtxRelease(device);
    }

    @Override
    public void close() {
        synchronized (OPEN) {
            if (closed) {
                return;
            }
            closed = true;
            OPEN.remove(info.index());
            worker.run(this::stop);
            worker.close();
        }
    }

    // ---- work

    /** Runs GPU work on the device's worker thread and returns its result. */
    public <T> T call(Callable<T> task) {
        if (closed) {
            throw new IllegalStateException("CUDA device " + info.index() + " is closed");
        }
        return worker.call(task);
    }

    public void run(Runnable task) {
        call(() -> {
            task.run();
            return null;
        });
    }

    /** Launches a kernel on the compute stream (1-D grid and block). */
    public void launch(String kernel, int grid, int block, int sharedBytes, KernelArgs args) {
        lastLaunch = kernel;
        run(() -> {
            CudaCheck.check(cuLaunchKernel(kernels.function(kernel), grid, 1, 1, block, 1, 1, sharedBytes, stream,
                    args.pointer(), null), "cuLaunchKernel", "kernel " + kernel + " (grid " + grid + ", block " + block + ")");
            if (options.checkEveryLaunch()) {
                CudaCheck.check(cuStreamSynchronize(stream), "cuStreamSynchronize after", "kernel " + kernel);
            }
        });
    }

    /** Copies {@code bytes} from {@code src} (arena memory no buffer holds any more) into {@code dst}, on the compute stream. */
    void copyWithinArena(DeviceBuffer dst, CUdeviceptr src, long bytes) {
        CUdeviceptr to = dst.pointer();
        run(() -> CudaCheck.check(cuMemcpyDtoDAsync(to, src, bytes, stream), "cuMemcpyDtoDAsync", "arena move into " + dst));
    }

    /** Copies {@code bytes} between two arena places no buffer holds (they must not overlap), on the compute stream. */
    void copyWithinArena(CUdeviceptr dst, CUdeviceptr src, long bytes) {
        run(() -> CudaCheck.check(cuMemcpyDtoDAsync(dst, src, bytes, stream), "cuMemcpyDtoDAsync", "arena move"));
    }

    /** Waits for all work on the compute stream. */
    public void synchronize() {
        run(() -> CudaCheck.check(cuStreamSynchronize(stream), "cuStreamSynchronize", "device " + info.index()));
    }

    public CudaEvent newEvent() {
        return new CudaEvent(this);
    }

    /** Free device memory now, as the driver reports it. */
    public long freeBytes() {
        return call(() -> {
            long[] free = {0};
            long[] total = {0};
            CudaCheck.check(cuMemGetInfo(free, total), "cuMemGetInfo", "device " + info.index());
            return free[0];
        });
    }

    // ---- accessors

    public GpuEnvironment.Device info() {
        return info;
    }

    public DeviceArena arena() {
        return arena;
    }

    /** The device's UUID as nvidia-smi prints it ("GPU-…"), or "unknown". */
    public String uuid() {
        return uuid;
    }

    static String formatUuid(byte[] b) {
        StringBuilder sb = new StringBuilder("GPU-");
        for (int i = 0; i < b.length; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) {
                sb.append('-');
            }
            sb.append(String.format("%02x", b[i] & 0xFF));
        }
        return sb.toString();
    }

    public int multiprocessors() {
        return multiprocessors;
    }

    /** The matrix product chosen at start. */
    public Gemm gemm() {
        return gemm;
    }

    public OwnGemm ownGemm() {
        return ownGemm;
    }

    /** The own GEMM restricted to its portable mma.sync kernel (for tests and benchmarks on Hopper). */
    public OwnGemm ownGemmMmaSync() {
        return ownGemmMmaSync;
    }

    public Optional<CublasLtGemm> cublasLtGemm() {
        return cublasLt;
    }

    /** The bf16 copies of bias vectors for the GEMM's bias epilogue (made by {@link CudaOps#prepareBias}). */
    public EpilogueBiases epilogueBiases() {
        return epilogueBiases;
    }

    /** The FP8 copies of weight matrices for {@link GemmPrecision#FP8} products (made by {@link CudaOps#prepareFp8}). */
    public Fp8Weights fp8Weights() {
        return fp8Weights;
    }

    /** Records what a launch that does not go through {@link #launch} ran (a library GEMM), for {@link OpTimer}. */
    void noteLaunch(String what) {
        lastLaunch = what;
    }

    /** What the last launch ran, cleared by the read. */
    String takeLastLaunch() {
        String s = lastLaunch;
        lastLaunch = "";
        return s;
    }

    /** Why cuBLASLt is not used, when it is not. */
    public String cublasLtProblem() {
        return cublasLtProblem;
    }

    CUstream stream() {
        return stream;
    }

    boolean checkEveryLaunch() {
        return options.checkEveryLaunch();
    }

    /** What the run statistics report about the device. */
    public Map<String, Object> statistics() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("device", info.index() + ": " + info.name() + " (compute " + info.computeCapability() + ")");
        m.put("gemm", gemm.name());
        if (gemm != cublasLt.orElse(null)) {
            m.put("cublaslt_problem", cublasLtProblem);
        }
        m.put("arena_bytes", arena.capacityBytes());
        m.put("arena_peak_bytes", arena.peakBytes());
        return m;
    }

    @Override
    public String toString() {
        return "CudaDevice[" + info.index() + ": " + info.name() + "]";
    }
}
