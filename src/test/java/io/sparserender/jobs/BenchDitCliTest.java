package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** `bench dit`, `bench generate` and `bench vae` check their flags before touching a device, naming the flag. */
class BenchDitCliTest {
    @Test
    void badSizeAndConfigAreUsageErrorsNamingTheFlag() {
        for (String bench : new String[] {"dit", "generate"}) {
            CliTest.Result size = CliTest.run("bench", bench, "--random-weights", "--size", "1280");
            assertThat(size.code()).as(bench).isEqualTo(Main.EXIT_USAGE);
            assertThat(size.err()).contains("--size 1280: expected WIDTHxHEIGHT");
            CliTest.Result config = CliTest.run("bench", bench, "--random-weights", "--config", "no-such-model");
            assertThat(config.code()).as(bench).isEqualTo(Main.EXIT_USAGE);
            assertThat(config.err()).contains("--config no-such-model");
        }
        CliTest.Result vaeSize = CliTest.run("bench", "vae", "--size", "1280");
        assertThat(vaeSize.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(vaeSize.err()).contains("--size 1280: expected WIDTHxHEIGHT");
        CliTest.Result vaeConfig = CliTest.run("bench", "vae", "--config", "no-such-model");
        assertThat(vaeConfig.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(vaeConfig.err()).contains("--config no-such-model");
        CliTest.Result vaeFrames = CliTest.run("bench", "vae", "--frames", "0");
        assertThat(vaeFrames.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(vaeFrames.err()).contains("--frames 0");
        CliTest.Result policy = CliTest.run("bench", "generate", "--random-weights", "--policy", "magic:x=1");
        assertThat(policy.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(policy.err()).contains("--policy magic:x=1");
    }
}
