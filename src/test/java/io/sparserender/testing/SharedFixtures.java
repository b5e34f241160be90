package io.sparserender.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates {@code ../shared/fixtures} (the reference outputs of diffusers, transformers and PyTorch). */
public final class SharedFixtures {
    private SharedFixtures() {}

    public static Path root() {
        String prop = System.getProperty("sparserender.shared");
        Path shared = prop != null ? Path.of(prop) : Path.of("..", "shared");
        Path fixtures = shared.resolve("fixtures").toAbsolutePath().normalize();
        if (!Files.isDirectory(fixtures)) {
            throw new IllegalStateException("Cannot find the shared fixtures at " + fixtures
                    + " (set -Dsparserender.shared=DIR)");
        }
        return fixtures;
    }

    public static Path path(String relative) {
        return root().resolve(relative);
    }
}
