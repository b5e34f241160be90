package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.driver.output.OutputLayout;
import io.sparserender.driver.output.OutputStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RenderProgressTest {
    @TempDir
    Path dir;

    @Test
    void lineShowsDoneTotalRateAndEta() {
        OutputStore store = new OutputStore(OutputLayout.of(dir.toUri().toString()), new Configuration());
        try (RenderProgress p = new RenderProgress(store, Set.of("a", "b", "c", "d"), Duration.ofHours(1))) {
            assertThat(p.line(1, 60)).isEqualTo("rendered 1/4 clips, 60.0 clips/h, ETA 0:03:00");
            assertThat(p.line(0, 5)).isEqualTo("rendered 0/4 clips, 0.0 clips/h, ETA unknown");
            assertThat(p.line(4, 7200)).isEqualTo("rendered 4/4 clips, 2.0 clips/h, ETA 0:00:00");
        }
    }
}
