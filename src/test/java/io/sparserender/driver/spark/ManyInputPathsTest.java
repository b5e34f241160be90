package io.sparserender.driver.spark;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.testing.LocalSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * More input paths than {@code spark.sql.sources.parallelPartitionDiscovery.threshold} (32) make Spark
 * list them with a job of its own, whose Hadoop types must be registered with Kryo (registration is
 * required): the stats of a run of more than 32 clips, a report over more than 32 partitions.
 */
class ManyInputPathsTest {
    @TempDir
    Path dir;

    @Test
    void moreThanThirtyTwoPathsAreListedInParallel() throws Exception {
        List<String> files = new ArrayList<>();
        List<String> folders = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            Path d = Files.createDirectories(dir.resolve("d" + i));
            Files.writeString(d.resolve("f.json"), "{\"a\":" + i + "}\n");
            files.add(d.resolve("f.json").toString());
            folders.add(d.toString());
        }
        var spark = LocalSpark.get();
        assertThat(spark.conf().get("spark.kryo.registrationRequired")).isEqualTo("true");
        assertThat(spark.read().json(files.toArray(String[]::new)).count()).isEqualTo(40);
        assertThat(spark.read().json(folders.toArray(String[]::new)).count()).isEqualTo(40);
    }
}
