package io.sparserender.testing;

import io.sparserender.engine.pipeline.ModelRepo;
import java.nio.file.Files;
import java.nio.file.Path;

/** A two-expert model for tests: wan-tiny's folder with a transformer_2/ of other random weights. */
public final class TwoExpertTiny {
    private TwoExpertTiny() {}

    /** wan-tiny with a second expert of other random weights, as Wan 2.2 A14B's folder layout (transformer_2/). */
    public static ModelRepo write(ModelRepo tiny, Path root, long secondSeed) throws java.io.IOException {
        try (var paths = Files.walk(tiny.root())) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                Path t = root.resolve(tiny.root().relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        var preset = tiny.preset();
        io.sparserender.engine.model.wan.WanTiny.write(preset.transformer(), secondSeed, io.sparserender.engine.tensor.DType.BF16,
                root.resolve("transformer_2"));
        var two = new io.sparserender.engine.model.wan.WanPreset("wan-tiny-two-experts", "test: wan-tiny with two experts",
                preset.transformer(), java.util.List.of("transformer", "transformer_2"), 0.875, preset.vae(), null,
                new io.sparserender.engine.model.wan.WanPreset.Defaults(4, 5.0, java.util.List.of(5.0, 3.0), 64, 32, 9, 8), null);
        return new ModelRepo(two, root, "two-experts-test");
    }

}
