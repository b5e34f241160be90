package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** `bench dit` and `bench generate` check their flags before touching a device, naming the flag. */
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
        CliTest.Result policy = CliTest.run("bench", "generate", "--random-weights", "--policy", "magic:x=1");
        assertThat(policy.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(policy.err()).contains("--policy magic:x=1");
    }
}
