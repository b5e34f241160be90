package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.engine.gpu.FatbinImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** Checks the built artefacts: the jar packs the fatbin, and bin/sparse-render runs from the distribution. */
class DistributionIT {
    private static final Path BASEDIR = Path.of(System.getProperty("sparserender.basedir", "."));

    private static boolean nvccOnPath() throws InterruptedException {
        try {
            return new ProcessBuilder("nvcc", "--version").redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void jarPacksTheFatbinForEveryTargetArchitecture() throws Exception {
        Assumptions.assumeTrue(nvccOnPath(), "nvcc not on the PATH: the build packs no kernels");
        Assumptions.assumeFalse("1".equals(System.getenv("SPARSE_RENDER_SKIP_CUDA")), "SPARSE_RENDER_SKIP_CUDA=1: the build packs no kernels");
        try (JarFile jar = new JarFile(System.getProperty("sparserender.jar"))) {
            ZipEntry e = jar.getEntry("io/sparserender/engine/gpu/" + FatbinImage.RESOURCE);
            assertThat(e).as("fatbin in the jar").isNotNull();
            FatbinImage image = FatbinImage.parse(jar.getInputStream(e).readAllBytes());
            assertThat(image.targets()).extracting(Object::toString)
                    .containsExactlyInAnyOrder("sm_80", "sm_86", "sm_89", "sm_90a", "compute_90");
            assertThat(image.supports(9, 0)).isTrue();
            assertThat(image.supports(8, 6)).isTrue();
            assertThat(image.supports(7, 5)).isFalse();
        }
    }

    @Test
    void launcherRunsDoctorFromTheDistribution() throws Exception {
        Process p = new ProcessBuilder(BASEDIR.resolve("bin/sparse-render").toString(), "doctor")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(out).contains("spark           4.2.0");
        for (String line : List.of("java", "kernels", "nvidia driver", "cublasLt", "hadoop")) {
            assertThat(out).contains(line);
        }
        Process bad = new ProcessBuilder(BASEDIR.resolve("bin/sparse-render").toString(), "doctor", "--bogus")
                .redirectErrorStream(true).start();
        String badOut = new String(bad.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(bad.waitFor()).isEqualTo(2);
        assertThat(badOut).doesNotContain("Exception").contains("Unknown option");
    }
}
