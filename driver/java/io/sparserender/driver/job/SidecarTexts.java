package io.sparserender.driver.job;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.function.FlatMapFunction;

/**
 * Reads sidecars (one small JSON document each) on the executors and returns their text, one element
 * per file: one read per sidecar and nothing else. Handing Spark thousands of file paths instead costs a
 * listing task per path (Spark lists more than 32 paths with one task each, up to 10,000) before reading.
 */
final class SidecarTexts implements FlatMapFunction<Iterator<String>, String> {
    private static final long serialVersionUID = 1L;

    private final Map<String, String> hadoopConf;

    SidecarTexts(Map<String, String> hadoopConf) {
        this.hadoopConf = Map.copyOf(hadoopConf);
    }

    @Override
    public Iterator<String> call(Iterator<String> paths) {
        Configuration conf = new Configuration(false);
        hadoopConf.forEach(conf::set);
        List<String> out = new ArrayList<>();
        while (paths.hasNext()) {
            Path p = new Path(paths.next());
            try (InputStream in = p.getFileSystem(conf).open(p)) {
                out.add(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot read sidecar " + p + ": " + e.getMessage(), e);
            }
        }
        return out.iterator();
    }

    /** Partitions to read {@code files} sidecars with: about 256 a task, at least one. */
    static int slices(int files, int parallelism) {
        return Math.max(1, Math.min((files + 255) / 256, 4 * parallelism));
    }
}
