package io.sparserender.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test that needs a CUDA device: tagged {@code gpu}, and skipped visibly (with the driver's
 * problem as the reason) where there is none. With {@code -Dsparserender.gpu.tests=require} (the GPU
 * bundle's runner sets it) a missing device fails the tests instead of skipping them.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag("gpu")
@ExtendWith(GpuCondition.class)
public @interface RequiresGpu {}
