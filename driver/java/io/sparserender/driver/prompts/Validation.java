package io.sparserender.driver.prompts;

import io.sparserender.engine.pipeline.ClipSpec;

/** The outcome of validating one prompt row: a clip to render, or a reason to reject the row. */
public sealed interface Validation {
    /** @param userId the row's optional {@code id}, or null */
    record Accepted(String source, long row, String userId, ClipSpec spec) implements Validation {}

    record Rejected(String source, long row, String reason) implements Validation {}
}
