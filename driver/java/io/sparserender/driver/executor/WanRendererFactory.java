package io.sparserender.driver.executor;

import io.sparserender.engine.pipeline.PolicySelfAttention;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.pipeline.ModelRepo;
import io.sparserender.engine.pipeline.WanClipRenderer;
import io.sparserender.engine.tensor.Tensor;
import java.nio.file.Path;

/**
 * The production renderer: a Wan model on this executor's backend. Options: {@code model_cache}
 * (where generated models are written; default {@link #defaultCache()}), {@code model_revision} (checked).
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
        String expected = settings.options().get("model_revision");
        if (expected != null && !expected.equals(repo.revision())) {
            throw new IllegalStateException("Cannot start the renderer: model " + settings.model() + " has revision "
                    + repo.revision() + " here, but the driver planned clips for " + expected
                    + " (a different model at that location on this executor)");
        }
        return switch (settings.backend()) {
            case "cpu" -> new WanClipRenderer<>(new CpuOps(), repo, PolicySelfAttention::forSpec, "cpu");
            case "cuda" -> throw new IllegalStateException("Cannot render on cuda: the DiT's CUDA backend is not in "
                    + "this build yet (the GPU runtime and GEMM are; the model still runs on --backend cpu)");
            default -> throw new IllegalArgumentException("Invalid backend '" + settings.backend() + "': use cpu or cuda");
        };
    }

}
