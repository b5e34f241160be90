package io.sparserender.engine.gpu;

import io.sparserender.engine.gpu.CudaVaeKernels.ConvTile;
import io.sparserender.engine.gpu.CudaVaeKernels.PackedConvWeight;
import io.sparserender.engine.tensor.DType;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Times conv3d_igemm.cu ({@link CudaVaeKernels#conv3dInto}) on one convolution shape for the chosen
 * tiles, plus the weight packing and the fused channel RMS norm + SiLU on the convolution's output:
 * CUDA events around each launch, median of {@code iters} after {@code warmups}; activations and weights
 * filled on the device from a hash, uniform in [−1, 1). TFLOP/s counts the useful 2·M·N·K
 * (K = C·kt·kh·kw, no channel padding); GB/s for the norm counts two reads and one write of the tensor.
 * Prints one JSON line per measurement, for bench/conv3d_torch.py to tabulate.
 */
public final class Conv3dBenchmark {
    /** One measurement. */
    public record Result(String op, String shape, String dtype, String tile, long m, int n, long k, double medianMs, double rate,
                         String unit, double[] allMs) {
        public String json() {
            return String.format(Locale.ROOT,
                    "{\"op\":\"%s\",\"shape\":\"%s\",\"dtype\":\"%s\",\"tile\":\"%s\",\"m\":%d,\"n\":%d,\"k\":%d,\"median_ms\":%.4f,"
                            + "\"%s\":%.1f,\"all_ms\":%s}",
                    op, shape, dtype, tile, m, n, k, medianMs, unit, rate, Arrays.toString(allMs));
        }
    }

    /**
     * The Wan 2.2 (TI2V-5B) decoder's convolutions at 1280×704 in a steady-state chunk (one latent frame
     * in, 4 video frames out; time kernels see 2 cached frames in front), widest first per stage:
     * CxTxHxW:O:KTxKHxKW, spatial padding k/2.
     */
    public static final List<String> WAN22_SHAPES = List.of(
            "256x6x352x640:256:3x3x3",     // up-stage 3 residual convs (5 per chunk)
            "512x6x352x640:256:3x3x3",     // up-stage 3, first residual conv (512 -> 256)
            "512x4x352x640:512:1x3x3",     // up-stage 2 upsample conv after nearest x2
            "512x6x176x320:512:3x3x3",     // up-stage 2 residual convs
            "1024x6x176x320:512:3x3x3",    // up-stage 2, first residual conv (1024 -> 512)
            "1024x4x176x320:1024:1x3x3",   // up-stage 1 upsample conv
            "1024x4x88x160:1024:3x3x3",    // up-stage 1 residual convs (2 frames + 2 cached)
            "1024x4x88x160:2048:3x1x1",    // up-stage 1 time conv (to 2C channels)
            "1024x3x44x80:1024:3x3x3",     // middle and up-stage 0 residual convs (1 frame + 2 cached)
            "256x6x352x640:12:3x3x3");     // conv_out to 12 channels (2x2 patches of RGB)

    private final CudaDevice device;
    private final CudaKernels ops;
    private final CudaVaeKernels vae;
    private final int warmups;
    private final int iters;

    public Conv3dBenchmark(CudaDevice device, int warmups, int iters) {
        this.device = device;
        this.ops = new CudaKernels(device);
        this.vae = new CudaVaeKernels(device);
        this.warmups = warmups;
        this.iters = iters;
    }

    /** A convolution shape parsed from CxTxHxW:O:KTxKHxKW (spatial padding kh/2, kw/2, as the VAE's convs). */
    public static Conv3dGeometry parseShape(String s) {
        String[] p = s.strip().split(":");
        try {
            if (p.length != 3) {
                throw new NumberFormatException();
            }
            int[] x = dims(p[0], 4);
            int o = Integer.parseInt(p[1].strip());
            int[] k = dims(p[2], 3);
            return Conv3dGeometry.of(x, new int[] {o, x[0], k[0], k[1], k[2]}, k[1] / 2, k[2] / 2);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Invalid conv3d shape '" + s + "': expected CxTxHxW:O:KTxKHxKW, e.g. 256x6x352x640:256:3x3x3");
        }
    }

    private static int[] dims(String s, int n) {
        String[] p = s.strip().toLowerCase(Locale.ROOT).split("x");
        if (p.length != n) {
            throw new NumberFormatException();
        }
        int[] d = new int[n];
        for (int i = 0; i < n; i++) {
            d[i] = Integer.parseInt(p[i].strip());
        }
        return d;
    }

    /**
     * Times one shape: packing, conv3d with each tile (a null entry: the tile conv3d chooses; {@code tiles} null:
     * every tile the device runs), the norm; prints and returns the results.
     */
    public List<Result> run(Conv3dGeometry g, DType dtype, List<ConvTile> tiles, PrintStream out) {
        if (tiles == null) {
            tiles = vae.tiles();
        }
        String shape = g.c() + "x" + g.t() + "x" + g.h() + "x" + g.w() + ":" + g.o() + ":" + g.kt() + "x" + g.kh() + "x" + g.kw();
        String dt = dtype.name().toLowerCase(Locale.ROOT);
        List<Result> results = new ArrayList<>();
        try (DeviceArena.Scope scope = device.arena().scope()) {
            DeviceBuffer x = randomActivations(dtype, 1, g.c(), g.t(), g.h(), g.w());
            DeviceBuffer w = ops.allocate(DType.BF16, g.o(), g.c(), g.kt(), g.kh(), g.kw());
            ops.fillUniform(w, 2, -0.05f, 0.05f);
            DeviceBuffer bias = ops.upload(new float[g.o()], g.o());
            DeviceBuffer y = ops.allocate(dtype, g.outShape());
            PackedConvWeight packed = vae.packConvWeight(w);
            double[] packMs = time(() -> vae.packConvWeightInto(w, packed.packed()));
            double packMed = median(packMs);
            double packBytes = w.byteSize() + packed.packed().byteSize();
            results.add(report(out, new Result("pack_weight", shape, "bf16", "-", g.o(), 0, g.packedK(), packMed,
                    packBytes / (packMed * 1e-3) / 1e9, "gb_per_s", packMs)));
            for (ConvTile tile : tiles) {
                ConvTile t = tile == null ? vae.tileFor(g.o()) : tile;
                double[] ms = time(() -> vae.conv3dInto(x, packed, bias, g.padH(), g.padW(), t, y));
                double med = median(ms);
                results.add(report(out, new Result("conv3d", shape, dt, t.name() + (tile == null ? " (chosen)" : ""), g.m(), g.o(), g.k(),
                        med, g.flops() / (med * 1e-3) / 1e12, "tflops", ms)));
            }
            DeviceBuffer gamma = ops.upload(ones(g.o()), g.o());
            DeviceBuffer normed = ops.allocate(dtype, g.outShape());
            double[] ms = time(() -> vae.channelRmsNormInto(y, gamma, null, true, normed));
            double med = median(ms);
            double bytes = 3.0 * y.byteSize();
            results.add(report(out, new Result("channel_rms_norm_silu", shape, dt, "-", y.numel() / g.o(), g.o(), 0, med,
                    bytes / (med * 1e-3) / 1e9, "gb_per_s", ms)));
        }
        return results;
    }

    private DeviceBuffer randomActivations(DType dtype, long seed, int... shape) {
        DeviceBuffer b16 = ops.allocate(DType.BF16, shape);
        ops.fillUniform(b16, seed, -1f, 1f);
        if (dtype == DType.BF16) {
            return b16;
        }
        DeviceBuffer f32 = ops.allocate(DType.F32, shape);
        ops.convert(b16, f32);
        return f32;
    }

    private double[] time(Runnable launch) {
        for (int i = 0; i < warmups; i++) {
            launch.run();
        }
        device.synchronize();
        double[] ms = new double[iters];
        try (CudaEvent start = device.newEvent(); CudaEvent stop = device.newEvent()) {
            for (int i = 0; i < iters; i++) {
                start.record();
                launch.run();
                stop.record();
                ms[i] = stop.elapsedMsSince(start);
            }
        }
        return ms;
    }

    private static Result report(PrintStream out, Result r) {
        out.println(r.json());
        return r;
    }

    private static double median(double[] ms) {
        double[] s = ms.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static float[] ones(int n) {
        float[] f = new float[n];
        Arrays.fill(f, 1f);
        return f;
    }
}
