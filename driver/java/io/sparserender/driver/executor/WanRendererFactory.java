package io.sparserender.driver.executor;

import io.sparserender.engine.gpu.AttentionKernel;
import io.sparserender.engine.gpu.CudaDevice;
import io.sparserender.engine.gpu.CudaOps;
import io.sparserender.engine.gpu.DeviceBuffer;
import io.sparserender.engine.gpu.GemmPrecision;
import io.sparserender.engine.gpu.OpTimer;
import io.sparserender.engine.pipeline.CudaSelfAttention;
import io.sparserender.engine.pipeline.PolicySelfAttention;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.pipeline.ModelRepo;
import io.sparserender.engine.pipeline.WanClipRenderer;
import io.sparserender.engine.tensor.Tensor;
import java.nio.file.Path;

/**
 * The production renderer: a Wan model on this executor's backend. Options: {@code model_cache}
 * (where generated models are written; default {@link #defaultCache()}), {@code model_revision} (checked),
 * {@code memory_budget_mb} (clips whose estimated working set exceeds it are refused before they start; default
 * the JVM heap on cpu, none on cuda, where the device arena bounds memory) and, on cuda, {@code arena_gib}
 * (device memory the executor reserves once; default: all free memory but a reserve).
 */
public final class WanRendererFactory implements ClipRendererFactory {
    public static Path defaultCache() {
        String env = System.getenv("SPARSE_RENDER_MODEL_CACHE");
        return env != null ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "sparse-render", "models");
    }

    @Override
    public WanClipRenderer<?> create(RendererSettings settings, int deviceIndex) {
        String cache = settings.options().get("model_cache");
        ModelRepo repo = ModelRepo.resolve(settings.model(), cache != null ? Path.of(cache) : defaultCache());
        String expected = settings.options().get("model_revision");
        if (expected != null && !expected.equals(repo.revision())) {
            throw new IllegalStateException("Cannot start the renderer: model " + settings.model() + " has revision "
                    + repo.revision() + " here, but the driver planned clips for " + expected
                    + " (a different model at that location on this executor)");
        }
        return switch (settings.backend()) {
            case "cpu" -> new WanClipRenderer<>(new CpuOps(), repo, PolicySelfAttention::forSpec, "cpu",
                    memoryBudget(settings));
            case "cuda" -> cuda(repo, settings, deviceIndex);
            default -> throw new IllegalArgumentException("Invalid backend '" + settings.backend() + "': use cpu or cuda");
        };
    }

    private static WanClipRenderer<DeviceBuffer> cuda(ModelRepo repo, RendererSettings settings, int deviceIndex) {
        String gib = settings.options().get("arena_gib");
        CudaDevice.Options options = CudaDevice.Options.defaults().withArenaBytes(gib == null ? 0 : Long.parseLong(gib) << 30);
        if (deviceIndex >= 0) {
            options = options.withDevice(Integer.toString(deviceIndex));
        }
        CudaDevice device = CudaDevice.open(options);
        CudaOps ops = new CudaOps(device);
        // the sidecar's device names the GEMM precision and an 8-bit attention kernel where they are set: a clip's pixels
        // depend on them
        String name = "cuda:" + device.info().index() + " " + device.info().name() + " " + device.uuid()
                + (ops.precision() == GemmPrecision.BF16 ? "" : " " + ops.precision().label() + "-gemm")
                + (AttentionKernel.configured() == AttentionKernel.WS_FP8 ? " " + AttentionKernel.WS_FP8.label() + "-attention" : "");
        long budget = settings.options().containsKey("memory_budget_mb") ? memoryBudget(settings) : Long.MAX_VALUE;
        return new WanClipRenderer<>(ops, repo, spec -> CudaSelfAttention.forSpec(spec, OpTimer.OFF), name, budget);
    }

    static long memoryBudget(RendererSettings settings) {
        String mb = settings.options().get("memory_budget_mb");
        if (mb == null) {
            return Runtime.getRuntime().maxMemory();
        }
        try {
            long v = Long.parseLong(mb.trim());
            if (v > 0) {
                return v << 20;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("Invalid renderer option memory_budget_mb '" + mb + "': a positive number of MiB");
    }
}
