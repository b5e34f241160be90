package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * deploy/build-gpu-bundle.sh builds a self-contained GPU-host bundle: a jlink runtime plus the engine
 * jars, no Spark or Hadoop, within its 60 MB budget; its doctor runs on the bundled runtime and says
 * which GEMM it would pick.
 */
class GpuBundleIT {
    private static final Path BASEDIR = Path.of(System.getProperty("sparserender.basedir", "."));

    @Test
    void bundleIsSelfContainedSmallAndRunsDoctor() throws Exception {
        Path out = BASEDIR.resolve("target/gpu-bundle-it");
        Process build = new ProcessBuilder(BASEDIR.resolve("deploy/build-gpu-bundle.sh").toString(), out.toString())
                .redirectErrorStream(true).start();
        String buildOut = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(build.waitFor()).as(buildOut).isZero();

        assertThat(sizeOf(out)).as("bundle size").isLessThanOrEqualTo(60L * 1000 * 1000);
        assertThat(out.resolve("runtime/bin/java")).isExecutable();
        List<String> jars;
        try (Stream<Path> s = Files.list(out.resolve("lib"))) {
            jars = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertThat(jars).anyMatch(j -> j.startsWith("jcuda-12")).anyMatch(j -> j.startsWith("sparse-render"))
                .noneMatch(j -> j.startsWith("spark-") || j.startsWith("hadoop-") || j.startsWith("scala-"));

        Process doctor = new ProcessBuilder(out.resolve("bin/sparse-render").toString(), "doctor")
                .redirectErrorStream(true).start();
        String doc = new String(doctor.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(doctor.waitFor()).as(doc).isZero();
        assertThat(doc).contains("runtime)", "nvidia driver", "gemm", "would be picked",
                "spark           not on the classpath (engine-only bundle)");
    }

    private static long sizeOf(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).sum();
        }
    }
}
