package io.sparserender.engine.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** JCuda's native library reaches java.io.tmpdir whole, also when several JVMs of a host write it at once. */
class JCudaNativesTest {
    @TempDir
    Path dir;

    @Test
    void theFileNameIsTheOneJCudaLoadsFromItsJar() throws Exception {
        String name = JCudaNatives.driverLibraryFile();
        assertThat(name).startsWith("libJCudaDriver-").contains(jcuda.JCudaVersion.get());
        try (InputStream in = jcuda.LibUtils.class.getResourceAsStream("/lib/" + name)) {
            assertThat(in).as("/lib/" + name + " in the jcuda-natives jar").isNotNull();
        }
    }

    @Test
    void concurrentWritersLeaveOneCompleteFileAndNoTemporaries() throws Exception {
        byte[] content = new byte[8 << 20];
        new Random(1).nextBytes(content);
        Path target = dir.resolve("libJCudaDriver-x.so");
        int writers = 8;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        List<Future<byte[]>> seen = new ArrayList<>();
        try {
            for (int i = 0; i < writers; i++) {
                seen.add(pool.submit(() -> {
                    start.await();
                    JCudaNatives.extract(content, target);
                    return Files.readAllBytes(target); // what a JCuda loading right after this writer would find
                }));
            }
            start.countDown();
            for (Future<byte[]> f : seen) {
                assertThat(f.get()).isEqualTo(content);
            }
        } finally {
            pool.shutdownNow();
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("libJCudaDriver-x.so");
        }
    }

    @Test
    void aCopyCutShortIsReplacedAndAnIdenticalOneKept() throws Exception {
        byte[] content = "the library".getBytes();
        Path target = dir.resolve("lib.so");
        Files.write(target, "the lib".getBytes());
        JCudaNatives.extract(content, target);
        assertThat(Files.readAllBytes(target)).isEqualTo(content);

        var modified = Files.getLastModifiedTime(target);
        Files.setLastModifiedTime(target, java.nio.file.attribute.FileTime.fromMillis(modified.toMillis() - 60_000));
        JCudaNatives.extract(content, target);
        assertThat(Files.getLastModifiedTime(target).toMillis()).as("an identical copy is not rewritten")
                .isEqualTo(modified.toMillis() - 60_000);
    }
}
