package io.sparserender.testing;

import io.sparserender.engine.gpu.GpuEnvironment;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/** Enables {@link RequiresGpu} tests only where the NVIDIA driver sees a device. */
public final class GpuCondition implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        GpuEnvironment env = GpuEnvironment.probe();
        String reason = env.driverProblem().map(p -> "no CUDA device: " + p)
                .orElse(env.devices().isEmpty() ? "no CUDA device: the driver sees none" : null);
        if (reason == null) {
            return ConditionEvaluationResult.enabled("CUDA device: " + env.devices().get(0).name());
        }
        if ("require".equals(System.getProperty("sparserender.gpu.tests"))) {
            throw new IllegalStateException("GPU tests required (sparserender.gpu.tests=require) but " + reason);
        }
        return ConditionEvaluationResult.disabled(reason);
    }
}
