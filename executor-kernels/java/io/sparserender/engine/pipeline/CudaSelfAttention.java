package io.sparserender.engine.pipeline;

import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.gpu.CudaAttention;
import io.sparserender.engine.gpu.CudaOps;
import io.sparserender.engine.gpu.DeviceBuffer;
import io.sparserender.engine.gpu.OpTimer;
import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;

/**
 * The DiT's self-attention on the GPU: the fused policy kernel ({@link CudaAttention}) for every policy
 * and head width it runs, with the tile counters it accumulates on the device as the statistics. A policy
 * the kernel does not run (or a head width other than 64/128) goes through the CPU reference
 * ({@link PolicySelfAttention}) on host copies: correct, slow, and said once in the log.
 * Exact recall is not measured on this path (NaN in the statistics).
 */
public final class CudaSelfAttention implements AttentionRecorder.Measured<DeviceBuffer> {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CudaSelfAttention.class);

    private final AttentionPolicy policy;
    private final OpTimer timer;
    private CudaAttention kernel;
    private PolicySelfAttention hostFallback;
    private double[] last = {0, 0, Double.NaN, Double.NaN, Double.NaN};

    public CudaSelfAttention(AttentionPolicy policy, OpTimer timer) {
        this.policy = policy;
        this.timer = timer;
    }

    /** The self-attention for a canonical policy spec on the GPU. */
    public static CudaSelfAttention forSpec(String spec, OpTimer timer) {
        return new CudaSelfAttention(PolicySpec.parse(spec), timer);
    }

    @Override
    public DeviceBuffer attend(Ops<DeviceBuffer> ops, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, Site site) {
        CudaOps cuda = (CudaOps) ops;
        int headDim = q.dim(3);
        if (!CudaAttention.supports(policy, headDim)) {
            return onHost(cuda, q, k, v, site);
        }
        if (kernel == null) {
            kernel = new CudaAttention(cuda.device());
        }
        DeviceBuffer qb = q.dtype() == DType.BF16 ? q : cuda.convert(q, DType.BF16);
        DeviceBuffer kb = k.dtype() == DType.BF16 ? k : cuda.convert(k, DType.BF16);
        DeviceBuffer vb = v.dtype() == DType.BF16 ? v : cuda.convert(v, DType.BF16);
        DeviceBuffer out = cuda.device().arena().allocate(DType.F32, q.shape());
        DeviceBuffer stats = kernel.newStatsBuffer();
        cuda.kernels().fill(stats, 0);
        io.sparserender.engine.attention.AttentionOptions options = new io.sparserender.engine.attention.AttentionOptions(
                new io.sparserender.engine.attention.VideoGrid(site.frames(), site.height(), site.width()), null);
        timer.time(cuda.device(), OpTimer.Kind.ATTENTION, () -> kernel.launch(policy, options, qb, kb, vb, out, null, null, stats));
        CudaAttention.Stats s = kernel.readStats(stats);
        double dense = 4.0 * q.dim(0) * q.dim(2) * (double) q.dim(1) * q.dim(1) * headDim;
        last = new double[] {s.tileSparsity(), dense == 0 ? 0 : s.flopsSaved() / dense, Double.NaN, Double.NaN, Double.NaN};
        return out;
    }

    private DeviceBuffer onHost(CudaOps cuda, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, Site site) {
        if (hostFallback == null) {
            LOG.warn("Policy '{}' at head dim {} has no GPU kernel: self-attention runs on the CPU reference (slow)",
                    policy.spec(), q.dim(3));
            hostFallback = new PolicySelfAttention(policy, 0);
        }
        Tensor o = hostFallback.attend(HOST, cuda.toHost(q), cuda.toHost(k), cuda.toHost(v), site);
        last = hostFallback.lastStatistics();
        return cuda.fromHost(o);
    }

    private static final io.sparserender.engine.ops.CpuOps HOST = new io.sparserender.engine.ops.CpuOps();

    @Override
    public double[] lastStatistics() {
        return last.clone();
    }
}
