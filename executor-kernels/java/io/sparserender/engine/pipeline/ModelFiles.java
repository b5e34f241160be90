package io.sparserender.engine.pipeline;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Read access to the files of a model folder wherever it lives: the local disk here, a Hadoop
 * FileSystem in the driver (a model on object storage is identified there before executors stage it).
 * {@link ModelRepo#revisionOf} reads a model through it, so a folder and its remote original get the
 * same revision.
 */
public interface ModelFiles {
    /** Where the folder is, for messages. */
    String location();

    /** Every regular file, as paths relative to the folder with '/' separators, sorted. */
    List<String> paths();

    /** Opens one of {@link #paths()}. */
    InputStream open(String path) throws IOException;

    static ModelFiles local(Path root) {
        List<String> paths;
        try (Stream<Path> s = Files.walk(root)) {
            paths = s.filter(Files::isRegularFile)
                    .map(p -> root.relativize(p).toString().replace(root.getFileSystem().getSeparator(), "/"))
                    .sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list model folder " + root + ": " + e.getMessage(), e);
        }
        return new ModelFiles() {
            @Override
            public String location() {
                return root.toString();
            }

            @Override
            public List<String> paths() {
                return paths;
            }

            @Override
            public InputStream open(String path) throws IOException {
                return Files.newInputStream(root.resolve(path));
            }
        };
    }
}
