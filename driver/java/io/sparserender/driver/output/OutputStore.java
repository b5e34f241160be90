package io.sparserender.driver.output;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Abortable;
import org.apache.hadoop.fs.CommonPathCapabilities;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * Writes outputs so that no reader ever sees a partial file, on any Hadoop FileSystem.
 *
 * <p>Object stores whose output streams are abortable (S3A: the object appears only when close()
 * completes the upload) are written in place, and a failed write is aborted instead of closed, so
 * nothing is published. Other filesystems (file://, hdfs://) get a hidden temporary file in the same
 * folder, renamed over the target after close (atomic there); local files are written with java.nio.
 */
public final class OutputStore {
    private final FileSystem fs;
    private final OutputLayout layout;

    public OutputStore(OutputLayout layout, Configuration conf) {
        this.layout = layout;
        try {
            this.fs = layout.root().getFileSystem(conf);
            fs.setWriteChecksum(false); // no .crc side files next to the outputs on local filesystems
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot open output location " + layout.root() + ": " + e.getMessage(), e);
        }
    }

    public OutputLayout layout() {
        return layout;
    }

    public FileSystem fileSystem() {
        return fs;
    }

    /** Writes the whole content, or nothing: on any failure the target is left as it was. */
    public void writeAtomically(Path target, byte[] content) {
        try {
            if (fs.hasPathCapability(target, CommonPathCapabilities.ABORTABLE_STREAM)) {
                writeAbortable(target, content);
            } else if (localFile(target) != null) {
                writeLocal(localFile(target), content);
            } else {
                writeViaRename(target, content);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    private void writeAbortable(Path target, byte[] content) throws IOException {
        FSDataOutputStream out = fs.create(target, true);
        boolean done = false;
        try {
            out.write(content);
            out.close();
            done = true;
        } finally {
            if (!done) {
                abort(out);
            }
        }
    }

    private static void abort(OutputStream out) {
        if (out instanceof Abortable a) {
            a.abort();
        } else if (out instanceof FSDataOutputStream d && d.getWrappedStream() instanceof Abortable a) {
            a.abort();
        }
    }

    /** The local file behind {@code p} on the local filesystem, else null. */
    private java.nio.file.Path localFile(Path p) {
        if (fs instanceof LocalFileSystem local) {
            return local.pathToFile(p).toPath();
        }
        if (fs instanceof RawLocalFileSystem raw) {
            return raw.pathToFile(p).toPath();
        }
        return null;
    }

    /**
     * Local files through java.nio: a hidden temp file renamed over the target in one step (rename(2)
     * replaces atomically). Hadoop's local filesystem would fork {@code chmod} for every file it creates
     * without its native library (7 ms a file), and deletes the target before renaming.
     */
    private static void writeLocal(java.nio.file.Path target, byte[] content) throws IOException {
        Files.createDirectories(target.getParent());
        java.nio.file.Path tmp = target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
        try {
            Files.write(tmp, content, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private void writeViaRename(Path target, byte[] content) throws IOException {
        Path tmp = new Path(target.getParent(), "." + target.getName() + "." + UUID.randomUUID() + ".tmp");
        try {
            try (FSDataOutputStream out = fs.create(tmp, false)) {
                out.write(content);
            }
            if (fs.exists(target)) {
                fs.delete(target, false);
            }
            if (!fs.rename(tmp, target)) {
                throw new IOException("rename of " + tmp + " to " + target + " refused");
            }
        } finally {
            if (fs.exists(tmp)) {
                fs.delete(tmp, false);
            }
        }
    }

    public boolean exists(Path p) {
        try {
            return fs.exists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot check " + p + ": " + e.getMessage(), e);
        }
    }

    /** Removes a file if it is there (a leftover of an interrupted attempt). */
    public void deleteIfExists(Path p) {
        try {
            if (fs.exists(p)) {
                fs.delete(p, false);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot delete " + p + ": " + e.getMessage(), e);
        }
    }

    public byte[] read(Path p) {
        try (var in = fs.open(p)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    /** Ids of clips whose sidecar exists: the clips a rerun skips. */
    public Set<String> finishedClipIds() {
        Set<String> done = new HashSet<>();
        try {
            if (!fs.exists(layout.clips())) {
                return done;
            }
            for (FileStatus s : fs.listStatus(layout.clips())) {
                String n = s.getPath().getName();
                if (n.endsWith(".json") && n.length() == 37) {
                    done.add(n.substring(0, 32));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + layout.clips() + ": " + e.getMessage(), e);
        }
        return done;
    }
}
