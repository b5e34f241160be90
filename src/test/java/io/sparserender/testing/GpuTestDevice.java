package io.sparserender.testing;

import io.sparserender.engine.gpu.CudaDevice;
import io.sparserender.engine.gpu.CudaKernels;
import io.sparserender.engine.gpu.DeviceBuffer;
import io.sparserender.engine.tensor.DType;
import java.util.SplittableRandom;

/**
 * The device shared by every gpu test in a JVM (a 4 GiB arena, a sync after every launch so a fault
 * names its kernel), and helpers: fresh random inputs, poisoned outputs, closeness with the worst
 * element named.
 */
public final class GpuTestDevice {
    /** NaN bit patterns no kernel writes: an element still holding one was never written. */
    public static final int POISON32 = 0x7FBADBAD;
    public static final short POISON16 = (short) 0x7FBA;

    private static CudaDevice device;
    private static CudaKernels ops;
    private static io.sparserender.engine.gpu.CudaOps cudaOps;

    private GpuTestDevice() {}

    public static synchronized CudaKernels ops() {
        if (ops == null) {
            device = CudaDevice.open(CudaDevice.Options.defaults().withArenaBytes(4L << 30).withCheckEveryLaunch(true));
            ops = new CudaKernels(device);
        }
        return ops;
    }

    /** The model-level CUDA backend over the shared device. */
    public static synchronized io.sparserender.engine.gpu.CudaOps cudaOps() {
        if (cudaOps == null) {
            cudaOps = new io.sparserender.engine.gpu.CudaOps(ops().device());
        }
        return cudaOps;
    }

    /**
     * Fills the arena's free memory (all but a small margin) with the 32-bit poison, so tensors an
     * operation allocates next start poisoned and an element it never writes shows up as NaN.
     */
    public static void poisonFreeArena() {
        io.sparserender.engine.gpu.DeviceArena arena = ops().device().arena();
        long free = arena.capacityBytes() - arena.usedBytes() - (1L << 20);
        try (io.sparserender.engine.gpu.DeviceArena.Scope s = arena.scope()) {
            DeviceBuffer all = arena.allocate(DType.I32, (int) Math.min(Integer.MAX_VALUE - 8L, free / 4));
            ops().fill(all, POISON32);
        }
    }

    /** A random generator seeded from the clock, with the seed printed so a failure can be replayed. */
    public static SplittableRandom random(String test) {
        long seed = Long.getLong("sparserender.test.seed", System.nanoTime());
        System.out.println(test + ": seed " + seed + " (-Dsparserender.test.seed=" + seed + " to replay)");
        return new SplittableRandom(seed);
    }

    public static float[] uniform(SplittableRandom r, int n, double lo, double hi) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return x;
    }

    /** Each value rounded to the nearest bf16. */
    public static float[] roundBf16(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = io.sparserender.engine.tensor.HalfFloats.roundToBf16(x[i]);
        }
        return y;
    }

    /** A new output buffer with every element set to the poison pattern. */
    public static DeviceBuffer poisoned(DType dtype, int... shape) {
        DeviceBuffer b = ops().allocate(dtype, shape);
        ops().fill(b, dtype.byteSize() == 4 ? POISON32 : POISON16);
        return b;
    }

    /**
     * Checks every element was written (no poison left) and |actual - expected| <= atol + rtol |expected|,
     * naming the first element that is not.
     */
    public static void assertWrittenAndClose(DeviceBuffer out, float[] expected, double atol, double rtol, String what) {
        float[] actual = out.toFloats();
        if (actual.length != expected.length) {
            throw new AssertionError(what + ": " + actual.length + " elements, expected " + expected.length);
        }
        int unwritten = 0;
        int firstUnwritten = -1;
        if (out.dtype() == DType.F32) {
            for (int i = 0; i < actual.length; i++) {
                if (Float.floatToRawIntBits(actual[i]) == POISON32) {
                    unwritten++;
                    firstUnwritten = firstUnwritten < 0 ? i : firstUnwritten;
                }
            }
        } else {
            short[] bits = out.toShortArray();
            for (int i = 0; i < bits.length; i++) {
                if (bits[i] == POISON16) {
                    unwritten++;
                    firstUnwritten = firstUnwritten < 0 ? i : firstUnwritten;
                }
            }
        }
        if (unwritten > 0) {
            throw new AssertionError(what + ": " + unwritten + " of " + actual.length
                    + " elements never written (first at " + firstUnwritten + ")");
        }
        assertClose(actual, expected, atol, rtol, what);
    }

    public static void assertClose(float[] actual, float[] expected, double atol, double rtol, String what) {
        int bad = 0;
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < actual.length; i++) {
            double tol = atol + rtol * Math.abs(expected[i]);
            double err = Math.abs((double) actual[i] - expected[i]);
            if (!(err <= tol)) {
                bad++;
                double excess = Double.isNaN(err) ? Double.POSITIVE_INFINITY : err / tol;
                if (worst < 0 || excess > worstExcess) {
                    worst = i;
                    worstExcess = excess;
                }
            }
        }
        if (bad > 0) {
            throw new AssertionError(String.format("%s: %d of %d elements outside atol %.2g + rtol %.2g; worst at %d: %s vs expected %s",
                    what, bad, actual.length, atol, rtol, worst, actual[worst], expected[worst]));
        }
    }
}
