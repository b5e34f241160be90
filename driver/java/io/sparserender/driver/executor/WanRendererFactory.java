package io.sparserender.driver.executor;

import io.sparserender.engine.pipeline.PolicySelfAttention;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.pipeline.ModelRepo;
import io.sparserender.engine.pipeline.WanClipRenderer;
import io.sparserender.engine.tensor.Tensor;
import java.nio.file.Path;

/**
 * The production renderer: a Wan model on this executor's backend. Options: {@code model_cache}
 * (where generated models are written; default {@link #defaultCache()}) and {@code memory_budget_mb}
 * (clips whose estimated working set exceeds it are refused before they start; default the JVM heap).
 */
public final class WanRendererFactory implements ClipRendererFactory {
    public static Path defaultCache() {
        String env = System.getenv("SPARSE_RENDER_MODEL_CACHE");
        return env != null ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "sparse-render", "models");
    }

    @Override
    public WanClipRenderer<Tensor> create(RendererSettings settings, int deviceIndex) {
        String cache = settings.options().get("model_cache");
        ModelRepo repo = ModelRepo.resolve(settings.model(), cache != null ? Path.of(cache) : defaultCache());
        return switch (settings.backend()) {
            case "cpu" -> new WanClipRenderer<>(new CpuOps(), repo, PolicySelfAttention::forSpec, "cpu",
                    memoryBudget(settings));
            case "cuda" -> throw new IllegalStateException("Cannot render on cuda: the DiT's CUDA backend is not in "
                    + "this build yet (the GPU runtime and GEMM are; the model still runs on --backend cpu)");
            default -> throw new IllegalArgumentException("Invalid backend '" + settings.backend() + "': use cpu or cuda");
        };
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
