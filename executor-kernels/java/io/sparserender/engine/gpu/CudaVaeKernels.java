package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Wan VAE decoder's operations on the device, one method per {@code Ops} VAE method, over
 * channels-first video buffers [C, T, H, W] (see {@code Ops}): {@code conv3d} (conv3d_igemm.cu, an
 * implicit GEMM on the tensor cores with mma.sync; conv3d_igemm_sm90.cu, the same with wgmma on
 * compute 9.0), {@code channelRmsNorm}, {@code upsampleNearest2x},
 * {@code repeatInterleave} and {@code clamp} (vae_ops.cu). Activations are F32 or BF16 and every output
 * has its input's dtype; conv weights F32 or BF16 (multiplied as bf16), biases and norm gammas/betas F32
 * vectors. Each method comes in two forms: one allocates its output from the device's arena, the
 * {@code ...Into} form writes a buffer the caller gives (tests poison it first).
 *
 * <p>conv3d re-packs its weight into the kernel's layout on every call (a small memory-bound kernel, a few
 * percent of the convolution at the VAE's shapes); a caller that keeps weights on the device packs each
 * once with {@link #packConvWeight} and passes the {@link PackedConvWeight}. Outputs must not overlap inputs
 * (except {@code clampInto}, elementwise).
 */
public final class CudaVaeKernels {
    private static final int BLOCK = 256;
    /** Shared-memory stages of conv3d_igemm.cu (CONV_STAGES). */
    private static final int CONV_STAGES = 4;

    /** Every kernel of conv3d_igemm.cu, conv3d_igemm_sm90.cu and vae_ops.cu, for {@link KernelModule}. */
    static final List<String> KERNELS;

    static {
        List<String> k = new ArrayList<>(List.of("conv3d_pack_weight_f32", "conv3d_pack_weight_bf16",
                "channel_rms_norm_f32", "channel_rms_norm_bf16", "upsample_nearest2x_u16", "upsample_nearest2x_u32",
                "repeat_interleave_u16", "repeat_interleave_u32", "clamp_f32", "clamp_bf16"));
        for (ConvTile t : ConvTile.values()) {
            k.add(t.kernel(DType.F32));
            k.add(t.kernel(DType.BF16));
        }
        KERNELS = List.copyOf(k);
    }

    /**
     * The kernel and its block tile along the output channels: conv3d_igemm.cu's mma.sync tiles of 128
     * output positions by BN channels ({@code N256} ... {@code N32}, every target), and
     * conv3d_igemm_sm90.cu's wgmma tile ({@code SM90_N256}, 128 × 256 × 64, compute 9.0 only).
     * {@link #forChannels} picks the cheapest mma.sync tile for O; {@link CudaVaeKernels#tileFor} swaps
     * in the Hopper kernel where it runs.
     */
    public enum ConvTile {
        N256(256, false), N128(128, false), N64(64, false), N32(32, false), SM90_N256(256, true);

        private final int bn;
        private final boolean hopperOnly;

        ConvTile(int bn, boolean hopperOnly) {
            this.bn = bn;
            this.hopperOnly = hopperOnly;
        }

        public int bn() {
            return bn;
        }

        /** Whether the tile is the wgmma kernel, which runs on compute 9.0 only. */
        public boolean hopperOnly() {
            return hopperOnly;
        }

        /**
         * Dynamic shared memory: mma.sync, CONV_STAGES × (128 + BN) rows × 32 bf16; wgmma, C9_SMEM_BYTES
         * (4 stages × (128 + 256) rows × 64 bf16 + 1024 to align the base).
         */
        public int smemBytes() {
            if (hopperOnly) {
                return 4 * (Conv3dGeometry.BM + bn) * 64 * 2 + 1024;
            }
            return CONV_STAGES * (Conv3dGeometry.BM + bn) * Conv3dGeometry.BK * 2;
        }

        String kernel(DType x) {
            return (hopperOnly ? "conv3d_igemm_sm90_" : "conv3d_igemm_n" + bn + "_") + suffix(x);
        }

        /**
         * The mma.sync tile with the least estimated work for O output channels: every n-tile repeats the
         * A gather, estimated (from the instruction counts of one K-step) to cost as much as 43 output
         * channels of MMAs, and computes BN columns, padding included. So wide O take N256, O just above a
         * multiple of 256 may take N128 (O = 300: three N128 tiles beat two N256), and small O the narrow
         * tiles (O = 12: N32). {@code bench conv3d --tile all} times every tile to check the choice.
         */
        public static ConvTile forChannels(int o) {
            ConvTile best = N256;
            double bestCost = Double.MAX_VALUE;
            for (ConvTile t : values()) {
                if (t.hopperOnly) {
                    continue;
                }
                int tiles = (o + t.bn - 1) / t.bn;
                double cost = tiles * (43.0 + t.bn);
                if (cost < bestCost - 1e-9) {
                    best = t;
                    bestCost = cost;
                }
            }
            return best;
        }
    }

    /**
     * A conv weight re-packed for conv3d_igemm.cu: bf16 [O, CB, taps, 32] (stored as [O, CB·taps·32]),
     * element (o, cb, tap, j) = W[o, 32·cb + j, tap], zero for channels ≥ C.
     */
    public record PackedConvWeight(DeviceBuffer packed, int outChannels, int inChannels, int kt, int kh, int kw) {
        public int[] weightShape() {
            return new int[] {outChannels, inChannels, kt, kh, kw};
        }
    }

    private final CudaDevice device;
    private final boolean hopperDevice;
    private final boolean useHopper;

    /** The kernels, with the wgmma conv3d on compute 9.0 unless {@code sparserender.conv3d} says mma-sync. */
    public CudaVaeKernels(CudaDevice device) {
        this(device, hopperAllowed());
    }

    /** @param allowHopper use the wgmma conv3d where the device is compute 9.0 */
    public CudaVaeKernels(CudaDevice device, boolean allowHopper) {
        this.device = device;
        this.hopperDevice = OwnGemm.isHopper(device.info());
        this.useHopper = allowHopper && hopperDevice;
    }

    /**
     * The conv3d kernel setting: property {@code sparserender.conv3d} or {@code SPARSE_RENDER_CONV3D}, {@code auto}
     * (default: the wgmma kernel on compute 9.0 for wide O) or {@code mma-sync} (the portable kernel everywhere).
     */
    public static boolean hopperAllowed() {
        String v = System.getProperty("sparserender.conv3d", System.getenv().getOrDefault("SPARSE_RENDER_CONV3D", "auto"));
        switch (v.strip().toLowerCase(java.util.Locale.ROOT)) {
            case "auto":
                return true;
            case "mma-sync":
                return false;
            default:
                throw new GpuException("Invalid conv3d choice '" + v + "' (sparserender.conv3d / SPARSE_RENDER_CONV3D): expected auto or mma-sync");
        }
    }

    /** The tile conv3d uses for O output channels on this device. */
    public ConvTile tileFor(int o) {
        ConvTile t = ConvTile.forChannels(o);
        return useHopper && t == ConvTile.N256 ? ConvTile.SM90_N256 : t;
    }

    /** Every tile this device can run (tests and benchmarks try them all). */
    public List<ConvTile> tiles() {
        List<ConvTile> t = new ArrayList<>();
        for (ConvTile c : ConvTile.values()) {
            if (!c.hopperOnly() || hopperDevice) {
                t.add(c);
            }
        }
        return t;
    }

    public CudaDevice device() {
        return device;
    }

    // ---- conv3d (conv3d_igemm.cu)

    /** W [O, C, kt, kh, kw] (F32 or BF16) re-packed into a new bf16 buffer from the arena. */
    public PackedConvWeight packConvWeight(DeviceBuffer weight) {
        Conv3dGeometry g = weightGeometry(weight);
        DeviceBuffer packed = device.arena().allocate(DType.BF16, g.o(), g.packedK());
        packConvWeightInto(weight, packed);
        return new PackedConvWeight(packed, g.o(), g.c(), g.kt(), g.kh(), g.kw());
    }

    /** W re-packed into {@code packed}, a bf16 [O, CB·taps·32] buffer (weights kept in memory the caller manages). */
    public void packConvWeightInto(DeviceBuffer weight, DeviceBuffer packed) {
        Conv3dGeometry g = weightGeometry(weight);
        if (packed.dtype() != DType.BF16 || !Arrays.equals(packed.shape(), new int[] {g.o(), g.packedK()})) {
            throw new IllegalArgumentException("conv3d packed weight: wants BF16[" + g.o() + ", " + g.packedK() + "] for "
                    + weight + ", got " + packed);
        }
        long n = packed.numel();
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(packed).ptr(weight).i32(g.o()).i32(g.c()).i32(g.taps()).i32(g.channelBlocks());
        device.launch("conv3d_pack_weight_" + suffix(weight.dtype()), grid(n), BLOCK, 0, new KernelArgs().struct(p));
    }

    /** The geometry of a one-output-position input that fits the weight: checks it and gives the packed size. */
    private static Conv3dGeometry weightGeometry(DeviceBuffer weight) {
        if (weight.rank() != 5 || (weight.dtype() != DType.F32 && weight.dtype() != DType.BF16)) {
            throw new IllegalArgumentException("conv3d weight: wants F32 or BF16 [O, C, kt, kh, kw], got " + weight);
        }
        int[] s = weight.shape();
        return new Conv3dGeometry(s[1], s[2], s[3], s[4], s[0], s[2], s[3], s[4], 0, 0);
    }

    /** {@code Ops.conv3d}: x [C, T, H, W], weight [O, C, kt, kh, kw], bias F32 [O] or null → [O, T', H', W']. */
    public DeviceBuffer conv3d(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer bias, int padH, int padW) {
        Conv3dGeometry g = Conv3dGeometry.of(x.shape(), weight.shape(), padH, padW);
        DeviceBuffer out = device.arena().allocate(activationType(x, "conv3d input"), g.outShape());
        conv3dInto(x, weight, bias, padH, padW, out);
        return out;
    }

    /** {@code Ops.conv3d} with a weight packed by {@link #packConvWeight}. */
    public DeviceBuffer conv3d(DeviceBuffer x, PackedConvWeight weight, DeviceBuffer bias, int padH, int padW) {
        Conv3dGeometry g = Conv3dGeometry.of(x.shape(), weight.weightShape(), padH, padW);
        DeviceBuffer out = device.arena().allocate(activationType(x, "conv3d input"), g.outShape());
        conv3dInto(x, weight, bias, padH, padW, tileFor(g.o()), out);
        return out;
    }

    /** conv3d into {@code out} [O, T', H', W'] of x's dtype; the packed weight lives only for this call. */
    public void conv3dInto(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer bias, int padH, int padW, DeviceBuffer out) {
        Conv3dGeometry g = Conv3dGeometry.of(x.shape(), weight.shape(), padH, padW);
        activationType(x, "conv3d input");
        checkConvOutput(g, x, out);
        requireVector("conv3d bias", bias, g.o());
        try (DeviceArena.Scope scope = device.arena().scope()) {
            conv3dInto(x, packConvWeight(weight), bias, padH, padW, tileFor(g.o()), out);
        }
    }

    /** conv3d into {@code out} with the given tile (tests and benchmarks run every tile). */
    public void conv3dInto(DeviceBuffer x, PackedConvWeight weight, DeviceBuffer bias, int padH, int padW, ConvTile tile,
            DeviceBuffer out) {
        Conv3dGeometry g = Conv3dGeometry.of(x.shape(), weight.weightShape(), padH, padW);
        activationType(x, "conv3d input");
        checkConvOutput(g, x, out);
        requireVector("conv3d bias", bias, g.o());
        if (weight.packed().dtype() != DType.BF16 || weight.packed().numel() != (long) g.o() * g.packedK()) {
            throw new IllegalArgumentException("conv3d: packed weight " + weight.packed() + " does not hold ["
                    + g.o() + ", " + g.packedK() + "] bf16 for " + g);
        }
        if (tile.hopperOnly() && !hopperDevice) {
            throw new IllegalArgumentException("conv3d tile " + tile + " needs a compute 9.0 device, not " + device.info().name());
        }
        long tiles = (long) ((g.m() + Conv3dGeometry.BM - 1) / Conv3dGeometry.BM) * ((g.o() + tile.bn() - 1) / tile.bn());
        KernelArgs.Struct p = convParams(g, x, weight.packed(), bias, out);
        device.launch(tile.kernel(x.dtype()), (int) tiles, BLOCK, tile.smemBytes(), new KernelArgs().struct(p));
    }

    /** The Conv3dParams struct of conv3d_common.cuh (both conv3d kernels), field for field. */
    static KernelArgs.Struct convParams(Conv3dGeometry g, DeviceBuffer x, DeviceBuffer packed, DeviceBuffer bias, DeviceBuffer out) {
        return new KernelArgs.Struct().ptr(out).ptr(x).ptr(packed).ptr(bias)
                .i64(g.inputPlane()).i32(g.m())
                .i32(g.c()).i32(g.h()).i32(g.w())
                .i32(g.o()).i32(g.outH()).i32(g.outW())
                .i32(g.kt()).i32(g.kh()).i32(g.kw())
                .i32(g.padH()).i32(g.padW())
                .i32(g.channelBlocks());
    }

    private static void checkConvOutput(Conv3dGeometry g, DeviceBuffer x, DeviceBuffer out) {
        if (out.dtype() != x.dtype() || !Arrays.equals(out.shape(), g.outShape())) {
            throw new IllegalArgumentException("conv3d: output " + out + " should be " + x.dtype() + Arrays.toString(g.outShape())
                    + " for " + g);
        }
    }

    // ---- vae_ops.cu

    /** {@code Ops.channelRmsNorm}: x / max(‖x‖₂ over dimension 0, 1e-12) · √C · gamma[c] (+ beta[c]). */
    public DeviceBuffer channelRmsNorm(DeviceBuffer x, DeviceBuffer gamma, DeviceBuffer beta) {
        DeviceBuffer out = device.arena().allocate(activationType(x, "channelRmsNorm input"), x.shape());
        channelRmsNormInto(x, gamma, beta, false, out);
        return out;
    }

    /** channelRmsNorm followed by SiLU in the same pass (the residual blocks' norm → SiLU). */
    public DeviceBuffer channelRmsNormSilu(DeviceBuffer x, DeviceBuffer gamma, DeviceBuffer beta) {
        DeviceBuffer out = device.arena().allocate(activationType(x, "channelRmsNorm input"), x.shape());
        channelRmsNormInto(x, gamma, beta, true, out);
        return out;
    }

    public void channelRmsNormInto(DeviceBuffer x, DeviceBuffer gamma, DeviceBuffer beta, boolean silu, DeviceBuffer out) {
        activationType(x, "channelRmsNorm input");
        sameShapeAndType("channelRmsNorm", x, out);
        if (x.rank() < 1) {
            throw new IllegalArgumentException("Cannot apply channelRmsNorm to scalar " + x);
        }
        int c = x.dim(0);
        if (gamma == null) {
            throw new IllegalArgumentException("Invalid channelRmsNorm gamma: null");
        }
        requireVector("channelRmsNorm gamma", gamma, c);
        requireVector("channelRmsNorm beta", beta, c);
        long positions = c == 0 ? 0 : x.numel() / c;
        if (positions == 0) {
            return;
        }
        KernelArgs.Struct p = new KernelArgs.Struct().ptr(out).ptr(x).ptr(gamma).ptr(beta).i64(positions).i32(c).i32(silu ? 1 : 0);
        device.launch("channel_rms_norm_" + suffix(x.dtype()), grid(positions), BLOCK, 0, new KernelArgs().struct(p));
    }

    /** {@code Ops.upsampleNearest2x}: [..., H, W] → [..., 2H, 2W]. */
    public DeviceBuffer upsampleNearest2x(DeviceBuffer x) {
        if (x.rank() < 2) {
            throw new IllegalArgumentException("Cannot upsample " + x + ": needs [..., H, W]");
        }
        int[] s = x.shape();
        s[s.length - 2] = checkedDouble(s[s.length - 2], x);
        s[s.length - 1] = checkedDouble(s[s.length - 1], x);
        DeviceBuffer out = device.arena().allocate(activationType(x, "upsampleNearest2x input"), s);
        upsampleNearest2xInto(x, out);
        return out;
    }

    public void upsampleNearest2xInto(DeviceBuffer x, DeviceBuffer out) {
        activationType(x, "upsampleNearest2x input");
        int[] s = x.shape();
        if (s.length < 2) {
            throw new IllegalArgumentException("Cannot upsample " + x + ": needs [..., H, W]");
        }
        int h = s[s.length - 2];
        int w = s[s.length - 1];
        int[] want = s.clone();
        want[s.length - 2] = checkedDouble(h, x);
        want[s.length - 1] = checkedDouble(w, x);
        if (out.dtype() != x.dtype() || !Arrays.equals(out.shape(), want)) {
            throw new IllegalArgumentException("upsampleNearest2x: output " + out + " should be " + x.dtype() + Arrays.toString(want));
        }
        long outer = (long) h * w == 0 ? 0 : x.numel() / ((long) h * w);
        long pairs = out.numel() / 2;
        if (pairs == 0) {
            return;
        }
        String kernel = x.dtype().byteSize() == 2 ? "upsample_nearest2x_u16" : "upsample_nearest2x_u32";
        device.launch(kernel, grid(pairs), BLOCK, 0, new KernelArgs().ptr(out).ptr(x).i64(outer).i32(h).i32(w));
    }

    /** {@code Ops.repeatInterleave}: every slice along {@code dim} repeated {@code repeats} times in a row. */
    public DeviceBuffer repeatInterleave(DeviceBuffer x, int dim, int repeats) {
        int[] s = repeatShape(x, dim, repeats);
        DeviceBuffer out = device.arena().allocate(activationType(x, "repeatInterleave input"), s);
        repeatInterleaveInto(x, dim, repeats, out);
        return out;
    }

    public void repeatInterleaveInto(DeviceBuffer x, int dim, int repeats, DeviceBuffer out) {
        activationType(x, "repeatInterleave input");
        int[] want = repeatShape(x, dim, repeats);
        if (out.dtype() != x.dtype() || !Arrays.equals(out.shape(), want)) {
            throw new IllegalArgumentException("repeatInterleave: output " + out + " should be " + x.dtype() + Arrays.toString(want));
        }
        int[] s = x.shape();
        long inner = 1;
        for (int i = dim + 1; i < s.length; i++) {
            inner *= s[i];
        }
        long n = out.numel();
        if (n == 0) {
            return;
        }
        String kernel = x.dtype().byteSize() == 2 ? "repeat_interleave_u16" : "repeat_interleave_u32";
        device.launch(kernel, grid(n), BLOCK, 0, new KernelArgs().ptr(out).ptr(x).i64(n).i64(inner).i32(repeats));
    }

    /** {@code Ops.clamp}: min(max(x, lo), hi) elementwise (NaN stays NaN). */
    public DeviceBuffer clamp(DeviceBuffer x, float lo, float hi) {
        DeviceBuffer out = device.arena().allocate(activationType(x, "clamp input"), x.shape());
        clampInto(x, lo, hi, out);
        return out;
    }

    /** clamp into {@code out} (may be x itself). */
    public void clampInto(DeviceBuffer x, float lo, float hi, DeviceBuffer out) {
        activationType(x, "clamp input");
        sameShapeAndType("clamp", x, out);
        long n = x.numel();
        if (n == 0) {
            return;
        }
        device.launch("clamp_" + suffix(x.dtype()), grid(n), BLOCK, 0, new KernelArgs().ptr(out).ptr(x).f32(lo).f32(hi).i64(n));
    }

    // ---- helpers

    private int grid(long n) {
        long blocks = (n + BLOCK - 1) / BLOCK;
        return (int) Math.max(1, Math.min(blocks, (long) device.multiprocessors() * 32));
    }

    private static int[] repeatShape(DeviceBuffer x, int dim, int repeats) {
        int[] s = x.shape();
        if (dim < 0 || dim >= s.length || repeats < 1) {
            throw new IllegalArgumentException("Cannot repeat " + x + " along dim " + dim + " " + repeats + " times");
        }
        long n = (long) s[dim] * repeats;
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Cannot repeat " + x + " along dim " + dim + " " + repeats + " times: "
                    + n + " slices do not fit one dimension");
        }
        s[dim] = (int) n;
        return s;
    }

    private static int checkedDouble(int d, DeviceBuffer x) {
        if (d > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("Cannot upsample " + x + ": dimension " + d + " doubled overflows");
        }
        return 2 * d;
    }

    private static DType activationType(DeviceBuffer x, String what) {
        if (x.dtype() != DType.F32 && x.dtype() != DType.BF16) {
            throw new IllegalArgumentException(what + ": wants F32 or BF16, got " + x);
        }
        return x.dtype();
    }

    private static String suffix(DType t) {
        switch (t) {
            case F32:
                return "f32";
            case BF16:
                return "bf16";
            default:
                throw new IllegalArgumentException("VAE kernels take F32 or BF16 buffers, not " + t);
        }
    }

    private static void requireVector(String what, DeviceBuffer v, int n) {
        if (v != null && (v.dtype() != DType.F32 || v.numel() != n)) {
            throw new IllegalArgumentException(what + ": wants F32[" + n + "], got " + v);
        }
    }

    private static void sameShapeAndType(String op, DeviceBuffer x, DeviceBuffer out) {
        if (out.dtype() != x.dtype() || !Arrays.equals(out.shape(), x.shape())) {
            throw new IllegalArgumentException(op + ": output " + out + " should be " + x.dtype() + Arrays.toString(x.shape()));
        }
    }
}
