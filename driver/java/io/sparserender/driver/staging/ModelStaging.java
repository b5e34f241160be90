package io.sparserender.driver.staging;

import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** The executor's side: list the model the driver identified, check it is still the same, stage it. */
public final class ModelStaging {
    private ModelStaging() {}

    /**
     * @param expectedKey the {@link ModelSource#key()} the driver saw, or null to accept whatever is there
     */
    public static StagedModel stage(String uri, String expectedKey, StagingSettings settings, Configuration conf) {
        FileSystem fs;
        try {
            fs = new Path(uri).getFileSystem(conf);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot open model location " + uri + ": " + e.getMessage(), e);
        }
        ModelSource source = ModelSource.list(fs, uri);
        if (expectedKey != null && !expectedKey.equals(source.key())) {
            throw new StagingException("Cannot stage model " + uri + ": it changed since the driver read it (its files, "
                    + "sizes or " + (source.checksummed() ? "checksums" : "modification times") + " differ); rerun the job");
        }
        return new ModelStager(settings.dir(), settings.threads()).stage(source, fs);
    }
}
