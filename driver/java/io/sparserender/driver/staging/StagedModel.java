package io.sparserender.driver.staging;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A model copied to (or found on) this host's disk.
 *
 * @param dir         the complete copy
 * @param bytesCopied bytes read from the source by this call (0 when an existing copy was reused)
 * @param millis      time spent staging, including waiting for another process staging the same copy
 * @param reused      whether a complete copy staged earlier (by this or another JVM) was used
 */
public record StagedModel(Path dir, long bytesCopied, long millis, boolean reused) {
    public StagedModel {
        Objects.requireNonNull(dir, "dir is null");
    }
}
