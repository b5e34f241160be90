package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.driver.output.OutputLayout;
import io.sparserender.driver.output.OutputStore;
import io.sparserender.engine.pipeline.ClipSidecar;
import io.sparserender.engine.pipeline.ClipSpec;
import io.sparserender.engine.pipeline.LayerStepStats;
import io.sparserender.engine.pipeline.RenderResult;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RenderProgressTest {
    @TempDir
    Path dir;

    @Test
    void lineShowsDoneTotalRateEtaAndMeanSparsity() {
        OutputStore store = new OutputStore(OutputLayout.of(dir.toUri().toString()), new Configuration());
        try (RenderProgress p = new RenderProgress(store, Set.of("a", "b", "c", "d"), Duration.ofHours(1))) {
            assertThat(p.line(1, 60, 0.25)).isEqualTo("rendered 1/4 clips, 60.0 clips/h, ETA 0:03:00, mean tile sparsity 0.250");
            assertThat(p.line(0, 5, Double.NaN)).isEqualTo("rendered 0/4 clips, 0.0 clips/h, ETA unknown, mean tile sparsity n/a");
            assertThat(p.line(4, 7200, 0.6875)).isEqualTo("rendered 4/4 clips, 2.0 clips/h, ETA 0:00:00, mean tile sparsity 0.688");
        }
    }

    /** Sparsity comes from the sidecars of this run's finished clips: earlier clips and unmeasured ones do not count. */
    @Test
    void meanSparsityIsOverTheSidecarsOfFinishedClipsOfThisRun() {
        OutputStore store = new OutputStore(OutputLayout.of(dir.toUri().toString()), new Configuration());
        ClipSpec a = spec("a river", 0);
        ClipSpec b = spec("a boat", 1);
        ClipSpec c = spec("a bird", 2);
        ClipSpec earlier = spec("done in an earlier run", 3);
        ClipSpec pending = spec("not rendered yet", 4);
        try (RenderProgress p = new RenderProgress(store, Set.of(a.clipId(), b.clipId(), c.clipId(), pending.clipId()),
                Duration.ofHours(1))) {
            assertThat(p.snapshot()).startsWith("rendered 0/4 clips").endsWith("mean tile sparsity n/a");
            writeSidecar(store, earlier, List.of(0.9, 0.9));
            writeSidecar(store, a, List.of(0.25, 0.75)); // clip mean 0.5
            assertThat(p.snapshot()).startsWith("rendered 1/4 clips").endsWith("mean tile sparsity 0.500");
            writeSidecar(store, b, List.of(0.125, 0.125));
            writeSidecar(store, c, List.of(Double.NaN)); // recorded as null: not counted
            assertThat(p.snapshot()).startsWith("rendered 3/4 clips").endsWith("mean tile sparsity 0.313");
        }
    }

    private static ClipSpec spec(String prompt, long seed) {
        return new ClipSpec(prompt, "", seed, 64, 32, 5, 2, 5.0, Double.NaN, 5.0, "dense", "wan-tiny", "r1");
    }

    private static void writeSidecar(OutputStore store, ClipSpec spec, List<Double> sparsity) {
        List<LayerStepStats> att = new ArrayList<>();
        for (int i = 0; i < sparsity.size(); i++) {
            att.add(new LayerStepStats(0, i, sparsity.get(i), 0, Double.NaN, Double.NaN, Double.NaN));
        }
        RenderResult r = new RenderResult(Path.of("x.mp4"), Map.of("dit", 1.0), att, 0);
        store.writeAtomically(store.layout().sidecar(spec.clipId()), ClipSidecar.toJson(spec, r, "run", "clips/x.mp4",
                1, "cpu", Instant.now()));
    }
}
