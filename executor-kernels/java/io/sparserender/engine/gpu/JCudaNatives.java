package io.sparserender.engine.gpu;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import jcuda.JCudaVersion;
import jcuda.LibUtils;

/**
 * JCuda's JNI library, written whole to where JCuda looks for it before JCuda loads it. JCuda copies
 * {@code libJCudaDriver-<version>-<os>-<arch>.so} from its jar to {@code java.io.tmpdir} under that fixed
 * name, in place, when the file is missing, and loads whatever file it finds there. Executors of one host
 * starting together (one per GPU) race on that file: the second loads the first's half-written copy and
 * fails to link, which reads as "NVIDIA driver not found". Here the copy goes to a temporary name and is
 * renamed into place, so JCuda only ever sees a missing or a complete file; a file of other content
 * (a copy cut short earlier) is replaced the same way.
 */
final class JCudaNatives {
    private JCudaNatives() {}

    /** The file name JCuda's driver library has in its jar ({@code /lib/…}) and in {@code java.io.tmpdir}. */
    static String driverLibraryFile() {
        return LibUtils.createLibraryFileName(LibUtils.createPlatformLibraryName("JCudaDriver-" + JCudaVersion.get()));
    }

    /** Writes JCuda's driver library into {@code java.io.tmpdir} unless an identical copy is there already. */
    static void extract() {
        String name = driverLibraryFile();
        try (InputStream in = LibUtils.class.getResourceAsStream("/lib/" + name)) {
            if (in == null) {
                return; // no natives for this platform in the jar: JCuda reports that itself
            }
            extract(in.readAllBytes(), Path.of(System.getProperty("java.io.tmpdir")).resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write JCuda's native library " + name + " into "
                    + System.getProperty("java.io.tmpdir") + ": " + e.getMessage(), e);
        }
    }

    /** Puts {@code content} at {@code target} by an atomic rename, unless the file there has this content already. */
    static void extract(byte[] content, Path target) throws IOException {
        if (sameContent(target, content)) {
            return;
        }
        Files.createDirectories(target.getParent());
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
        try {
            Files.write(tmp, content);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static boolean sameContent(Path file, byte[] content) throws IOException {
        return Files.isRegularFile(file) && Files.size(file) == content.length
                && Arrays.equals(Files.readAllBytes(file), content);
    }
}
