package io.sparserender.driver.staging;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies a model folder from a Hadoop FileSystem to this host's disk once, checksummed, and reuses a
 * complete copy staged earlier by any JVM on the host.
 *
 * <p>Rules: the copy goes into a hidden {@code .<name>.partial-*} folder and becomes
 * {@code <name>-<key>} by one atomic rename after every file has been hashed while copying, checked
 * (size as listed; SHA-256 as the source's {@link ChecksumManifest#FILE} says, when it has one),
 * flushed to disk, and recorded in {@link ChecksumManifest#STAGED} — so a folder with the final name is
 * complete, and an interrupted copy never looks like one. A file that fails its check is fetched again
 * (up to {@link #ATTEMPTS} times), then refused with its name. JVMs staging the same copy take a file lock
 * beside it: one copies, the others wait and reuse. A copy is reused only if its record lists every file
 * of the source with the right size and checksum and every file is there with that size; otherwise it is
 * replaced. The folder name carries {@link ModelSource#key()}, so a changed source gets a new copy.
 */
public final class ModelStager {
    private static final Logger LOG = LoggerFactory.getLogger(ModelStager.class);
    static final int ATTEMPTS = 3;
    private static final int BUFFER = 1 << 20;
    private static final Map<Path, Object> JVM_LOCKS = new ConcurrentHashMap<>();

    private final Path stagingDir;
    private final int threads;

    /** @param threads files copied at once */
    public ModelStager(Path stagingDir, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("Invalid staging threads " + threads + ": must be 1 or more");
        }
        this.stagingDir = stagingDir.toAbsolutePath().normalize();
        this.threads = threads;
    }

    /** The folder a source is staged into. */
    public Path target(ModelSource source) {
        return stagingDir.resolve(source.name() + "-" + source.key().substring(0, 16));
    }

    public StagedModel stage(ModelSource source, FileSystem fs) {
        long t0 = System.nanoTime();
        Path target = target(source);
        String name = target.getFileName().toString();
        try {
            Files.createDirectories(stagingDir);
            synchronized (JVM_LOCKS.computeIfAbsent(target, k -> new Object())) {
                try (FileChannel lockFile = FileChannel.open(stagingDir.resolve("." + name + ".lock"),
                        StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                     FileLock lock = acquire(lockFile, source)) {
                    if (Files.isDirectory(target)) {
                        String problem = problemWith(target, source);
                        if (problem == null) {
                            long ms = (System.nanoTime() - t0) / 1_000_000;
                            LOG.info("Reusing staged copy {} of {} ({} files, {})", target, source.uri(),
                                    source.files().size(), mib(source.totalBytes()));
                            return new StagedModel(target, 0, ms, true);
                        }
                        LOG.warn("Not reusing staged copy {} of {}: {}; staging it again", target, source.uri(), problem);
                        discard(target, name);
                    }
                    removeLeftovers(name);
                    return copy(source, fs, target, name, t0);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot stage model " + source.uri() + " into " + stagingDir + ": "
                    + e.getMessage(), e);
        }
    }

    private FileLock acquire(FileChannel ch, ModelSource source) throws IOException {
        long waitedSince = System.nanoTime();
        long lastLog = waitedSince;
        while (true) {
            FileLock lock = ch.tryLock();
            if (lock != null) {
                return lock;
            }
            if (System.nanoTime() - lastLog > 30_000_000_000L) {
                LOG.info("Waiting {} s for another process staging {} into {}",
                        (System.nanoTime() - waitedSince) / 1_000_000_000L, source.uri(), stagingDir);
                lastLog = System.nanoTime();
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting to stage " + source.uri());
            }
        }
    }

    private StagedModel copy(ModelSource source, FileSystem fs, Path target, String name, long t0) throws IOException {
        long free = Files.getFileStore(stagingDir).getUsableSpace();
        if (free < source.totalBytes()) {
            throw new StagingException("Cannot stage model " + source.uri() + " into " + stagingDir + ": it needs "
                    + source.totalBytes() + " bytes, " + free + " are free there (set spark.sparserender.stagingDir)");
        }
        Path tmp = Files.createTempDirectory(stagingDir, "." + name + ".partial-");
        try {
            readable(tmp);
            Map<String, String> sums = copyAll(source, fs, tmp);
            Path record = tmp.resolve(ChecksumManifest.STAGED);
            try (FileChannel out = FileChannel.open(record, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                out.write(ByteBuffer.wrap(ChecksumManifest.format(sums)));
                out.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            syncDir(stagingDir);
        } finally {
            if (Files.exists(tmp)) {
                deleteTree(tmp);
            }
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        LOG.info("Staged {} ({} files, {}, {}) into {} in {} s ({}/s)", source.uri(), source.files().size(),
                mib(source.totalBytes()), source.checksummed() ? "SHA-256 checked against " + ChecksumManifest.FILE
                        : "sizes checked, no " + ChecksumManifest.FILE + " beside it", target,
                String.format("%.1f", ms / 1000.0), mib(ms == 0 ? 0 : source.totalBytes() * 1000 / ms));
        return new StagedModel(target, source.totalBytes(), ms, false);
    }

    private Map<String, String> copyAll(ModelSource source, FileSystem fs, Path tmp) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, source.files().size()), r -> {
            Thread t = new Thread(r, "model-staging");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<String>> futures = new ArrayList<>();
            for (ModelSource.SourceFile f : source.files()) {
                futures.add(pool.submit(() -> copyWithRetries(source, f, fs, tmp)));
            }
            Map<String, String> sums = new TreeMap<>();
            for (int i = 0; i < futures.size(); i++) {
                sums.put(source.files().get(i).path(), futures.get(i).get());
            }
            return sums;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while staging " + source.uri());
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof IOException io) {
                throw io;
            }
            throw new IllegalStateException(c);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Copies one file, hashing it on the way; returns its SHA-256. */
    private static String copyWithRetries(ModelSource source, ModelSource.SourceFile f, FileSystem fs, Path tmp)
            throws IOException {
        Path dest = tmp.resolve(f.path()).normalize();
        if (!dest.startsWith(tmp)) {
            throw new StagingException("Cannot stage model " + source.uri() + ": file " + f.path() + " is outside it");
        }
        Files.createDirectories(dest.getParent());
        String last = null;
        for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
            try {
                String problem = copyOnce(f, fs, dest);
                if (problem.startsWith("sha256:")) {
                    return problem.substring(7);
                }
                last = problem;
            } catch (InterruptedIOException e) {
                throw e;
            } catch (IOException e) {
                last = "reading it failed: " + e.getMessage();
            }
            LOG.warn("Staging {}: {} {} (attempt {} of {})", source.uri(), f.path(), last, attempt, ATTEMPTS);
        }
        throw new StagingException("Cannot stage model " + source.uri() + ": " + f.path() + " " + last + " (after "
                + ATTEMPTS + " attempts)");
    }

    /** "sha256:HEX" when the copy is good, else what is wrong with it. */
    private static String copyOnce(ModelSource.SourceFile f, FileSystem fs, Path dest) throws IOException {
        MessageDigest md = sha256();
        long n = 0;
        byte[] buf = new byte[BUFFER];
        try (InputStream in = fs.open(new org.apache.hadoop.fs.Path(f.location()));
             FileChannel out = FileChannel.open(dest, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                     StandardOpenOption.TRUNCATE_EXISTING)) {
            int r;
            while ((r = in.read(buf)) > 0) {
                md.update(buf, 0, r);
                ByteBuffer b = ByteBuffer.wrap(buf, 0, r);
                while (b.hasRemaining()) {
                    out.write(b);
                }
                n += r;
            }
            out.force(true);
        }
        if (n != f.size()) {
            return "is " + n + " bytes, listed as " + f.size() + " (truncated, or changed while staging)";
        }
        String hex = HexFormat.of().formatHex(md.digest());
        if (f.sha256() != null && !hex.equals(f.sha256())) {
            return "has SHA-256 " + hex + " but " + ChecksumManifest.FILE + " says " + f.sha256() + " (corrupted)";
        }
        return "sha256:" + hex;
    }

    /** Null when {@code dir} is a complete copy of {@code source}, else why not (naming the file). */
    static String problemWith(Path dir, ModelSource source) throws IOException {
        Path record = dir.resolve(ChecksumManifest.STAGED);
        if (!Files.isRegularFile(record)) {
            return "it has no " + ChecksumManifest.STAGED + " (its copy never finished)";
        }
        Map<String, String> sums;
        try {
            sums = ChecksumManifest.parse(Files.readAllBytes(record), record.toString());
        } catch (StagingException e) {
            return e.getMessage();
        }
        for (ModelSource.SourceFile f : source.files()) {
            String recorded = sums.get(f.path());
            if (recorded == null) {
                return f.path() + " is not in its " + ChecksumManifest.STAGED;
            }
            if (f.sha256() != null && !recorded.equals(f.sha256())) {
                return f.path() + " was staged with SHA-256 " + recorded + ", " + ChecksumManifest.FILE + " says " + f.sha256();
            }
            Path p = dir.resolve(f.path());
            if (!Files.isRegularFile(p)) {
                return f.path() + " is missing";
            }
            long size = Files.size(p);
            if (size != f.size()) {
                return f.path() + " is " + size + " bytes, expected " + f.size();
            }
        }
        return null;
    }

    /** Moves a bad copy out of the way in one rename (so nobody picks it up half deleted), then deletes it. */
    private void discard(Path target, String name) throws IOException {
        Path stale = stagingDir.resolve("." + name + ".stale-" + UUID.randomUUID());
        Files.move(target, stale, StandardCopyOption.ATOMIC_MOVE);
        deleteTree(stale);
    }

    /** Partial copies of interrupted stagings and undeleted stale copies; only we hold the lock for this name. */
    private void removeLeftovers(String name) throws IOException {
        List<Path> leftovers;
        try (Stream<Path> s = Files.list(stagingDir)) {
            leftovers = s.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith("." + name + ".partial-") || n.startsWith("." + name + ".stale-");
            }).toList();
        }
        for (Path p : leftovers) {
            LOG.info("Removing {} (left by an interrupted staging)", p);
            deleteTree(p);
        }
    }

    private static void readable(Path dir) throws IOException {
        try {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX filesystem: keep its defaults
        }
    }

    private static void syncDir(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some platforms cannot open folders; the rename itself is still atomic
        }
    }

    static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                try {
                    Files.deleteIfExists(p);
                } catch (NoSuchFileException e) {
                    // already gone
                }
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String mib(long bytes) {
        return String.format("%.1f MiB", bytes / 1048576.0);
    }
}
