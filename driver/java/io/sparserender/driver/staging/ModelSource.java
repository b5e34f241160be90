package io.sparserender.driver.staging;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * A model folder on a Hadoop FileSystem (s3a://, hdfs://, file://, ...) as listed at one moment: every
 * file with its size and modification time, and its expected SHA-256 when the folder carries a
 * {@link ChecksumManifest#FILE}. The driver lists it once to identify the model; each executor lists it
 * again before staging and must see the same {@link #key()}.
 *
 * @param uri         the folder as given
 * @param files       every file except the manifest, in path order
 * @param checksummed whether every file has an expected checksum (the folder has a manifest)
 */
public record ModelSource(String uri, List<SourceFile> files, boolean checksummed) {
    private static final Pattern SCHEME = Pattern.compile("^[a-zA-Z][a-zA-Z0-9+.-]*://.*");

    /**
     * @param path             relative to the folder, '/'-separated
     * @param modificationTime as the FileSystem reports it (ms since the epoch)
     * @param sha256           lower-case hex from the manifest, or null without one
     * @param location         the file's full URI, to open it
     */
    public record SourceFile(String path, long size, long modificationTime, String sha256, URI location) {
        public SourceFile {
            Objects.requireNonNull(path, "path is null");
            Objects.requireNonNull(location, "location is null");
        }
    }

    public ModelSource {
        Objects.requireNonNull(uri, "uri is null");
        files = List.copyOf(files);
    }

    /** Whether {@code --model} names a FileSystem URI (staged) rather than a local folder or preset (used in place). */
    public static boolean isRemote(String model) {
        return SCHEME.matcher(model).matches();
    }

    /** Lists the folder and reads its manifest; refuses a manifest that misses a file or names one that is absent. */
    public static ModelSource list(FileSystem fs, String uri) {
        Path root = fs.makeQualified(new Path(uri));
        try {
            FileStatus st = fs.getFileStatus(root);
            if (!st.isDirectory()) {
                throw new StagingException("Cannot stage model " + uri + ": not a folder (a model is a diffusers repo "
                        + "folder: transformer/, vae/, text_encoder/, tokenizer/)");
            }
            String prefix = root.toUri().getPath().endsWith("/") ? root.toUri().getPath() : root.toUri().getPath() + "/";
            List<FileStatus> listed = new ArrayList<>();
            RemoteIterator<LocatedFileStatus> it = fs.listFiles(root, true);
            while (it.hasNext()) {
                listed.add(it.next());
            }
            Map<String, String> sums = null;
            List<SourceFile> files = new ArrayList<>();
            for (FileStatus f : listed) {
                String p = f.getPath().toUri().getPath();
                if (!p.startsWith(prefix)) {
                    throw new StagingException("Cannot stage model " + uri + ": listed file " + f.getPath() + " is outside it");
                }
                String rel = p.substring(prefix.length());
                if (rel.equals(ChecksumManifest.FILE)) {
                    try (InputStream in = fs.open(f.getPath())) {
                        sums = ChecksumManifest.parse(in.readAllBytes(), uri + "/" + rel);
                    }
                } else {
                    if (rel.isEmpty() || Arrays.asList(rel.split("/")).contains("..")) {
                        throw new StagingException("Cannot stage model " + uri + ": invalid file name " + f.getPath());
                    }
                    files.add(new SourceFile(rel, f.getLen(), f.getModificationTime(), null, f.getPath().toUri()));
                }
            }
            if (files.isEmpty()) {
                throw new StagingException("Cannot stage model " + uri + ": the folder holds no files");
            }
            files.sort(Comparator.comparing(SourceFile::path));
            return sums == null ? new ModelSource(uri, files, false) : withChecksums(uri, files, sums);
        } catch (FileNotFoundException e) {
            throw new StagingException("Cannot stage model " + uri + ": no such folder", e);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list model " + uri + ": " + e.getMessage(), e);
        }
    }

    private static ModelSource withChecksums(String uri, List<SourceFile> files, Map<String, String> sums) {
        List<String> unlisted = new ArrayList<>();
        List<SourceFile> out = new ArrayList<>();
        for (SourceFile f : files) {
            String hex = sums.get(f.path());
            if (hex == null) {
                unlisted.add(f.path());
            }
            out.add(new SourceFile(f.path(), f.size(), f.modificationTime(), hex, f.location()));
        }
        if (!unlisted.isEmpty()) {
            throw new StagingException("Cannot stage model " + uri + ": " + ChecksumManifest.FILE + " has no checksum for "
                    + describe(unlisted) + " (regenerate it: " + regenerateHint() + ")");
        }
        List<String> absent = new ArrayList<>();
        for (String p : sums.keySet()) {
            if (files.stream().noneMatch(f -> f.path().equals(p))) {
                absent.add(p);
            }
        }
        if (!absent.isEmpty()) {
            throw new StagingException("Cannot stage model " + uri + ": " + ChecksumManifest.FILE + " lists "
                    + describe(absent) + " but the folder has no such file");
        }
        return new ModelSource(uri, out, true);
    }

    static String regenerateHint() {
        return "(cd MODEL && find . -type f ! -name " + ChecksumManifest.FILE + " -print0 | xargs -0 sha256sum) > MODEL/"
                + ChecksumManifest.FILE;
    }

    private static String describe(List<String> paths) {
        String shown = String.join(", ", paths.subList(0, Math.min(5, paths.size())));
        return paths.size() <= 5 ? shown : shown + " and " + (paths.size() - 5) + " more";
    }

    public long totalBytes() {
        return files.stream().mapToLong(SourceFile::size).sum();
    }

    /** The folder's last name, for the staged copy's folder name. */
    public String name() {
        String u = uri.replaceAll("/+$", "");
        String n = u.substring(u.lastIndexOf('/') + 1).replaceAll("[^A-Za-z0-9._-]", "_");
        return n.isEmpty() || n.startsWith(".") ? "model" : n;
    }

    /**
     * What the copy must equal, as hex SHA-256: every path with its size and expected checksum (or, without
     * a manifest, its modification time). Not the URI: the same checksummed model at another location is
     * the same copy.
     */
    public String key() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (SourceFile f : files) {
                String id = f.sha256() != null ? "sha256=" + f.sha256() : "mtime=" + f.modificationTime();
                md.update((f.path() + "\0" + f.size() + "\0" + id + "\n").getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
