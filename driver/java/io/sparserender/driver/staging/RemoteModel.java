package io.sparserender.driver.staging;

import io.sparserender.engine.model.wan.WanPreset;
import io.sparserender.engine.pipeline.ModelFiles;
import io.sparserender.engine.pipeline.ModelRepo;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A model on a Hadoop FileSystem as the driver sees it before any executor stages it: its preset and
 * revision (read from the config files and safetensors headers only, the same revision its staged copy
 * will have) and the {@link ModelSource#key()} every executor must find again.
 */
public record RemoteModel(String uri, WanPreset preset, String revision, String sourceKey, long bytes, int files) {
    public RemoteModel {
        Objects.requireNonNull(uri, "uri is null");
        Objects.requireNonNull(preset, "preset is null");
        Objects.requireNonNull(revision, "revision is null");
        Objects.requireNonNull(sourceKey, "sourceKey is null");
    }

    public static RemoteModel identify(String uri, Configuration conf) {
        FileSystem fs;
        try {
            fs = new Path(uri).getFileSystem(conf);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot open model location " + uri + ": " + e.getMessage(), e);
        }
        ModelSource source = ModelSource.list(fs, uri);
        ModelFiles files = new ModelFiles() {
            private final List<String> paths = source.files().stream().map(ModelSource.SourceFile::path).toList();

            @Override
            public String location() {
                return uri;
            }

            @Override
            public List<String> paths() {
                return paths;
            }

            @Override
            public InputStream open(String path) throws IOException {
                for (ModelSource.SourceFile f : source.files()) {
                    if (f.path().equals(path)) {
                        return fs.open(new Path(f.location()));
                    }
                }
                throw new java.io.FileNotFoundException(uri + "/" + path);
            }
        };
        return new RemoteModel(uri, ModelRepo.presetOf(files), ModelRepo.revisionOf(files), source.key(),
                source.totalBytes(), source.files().size());
    }
}
