package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.engine.video.Mp4Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** generate end to end in Spark local mode with the generated tiny model on the CPU. */
class GenerateCommandTest {
    @TempDir
    Path dir;

    @AfterEach
    void stopEngine() {
        ExecutorEngine.shutdown();
    }

    private CliTest.Result generate(String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("generate", "--model", "wan-tiny",
                "--model-cache", dir.resolve("cache").toString(), "--out", dir.resolve("out").toString(),
                "--size", "64x32", "--frames", "5", "--steps", "2"));
        args.addAll(List.of(extra));
        return CliTest.run(args.toArray(String[]::new));
    }

    @Test
    void promptBecomesAPlayableClipAndARerunSkipsIt() throws Exception {
        CliTest.Result first = generate("--prompt", "a small boat on a green river");
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("1 clips (0 already done), 1 rendered, 0 failed");
        Path clips = dir.resolve("out/clips");
        List<Path> videos;
        try (Stream<Path> s = Files.list(clips)) {
            videos = s.filter(p -> p.toString().endsWith(".mp4")).toList();
        }
        assertThat(videos).hasSize(1);
        Mp4Reader.Video v = Mp4Reader.read(videos.get(0));
        assertThat(v.frames()).hasSize(5);
        assertThat(v.width()).isEqualTo(64);
        assertThat(v.height()).isEqualTo(32);
        String sidecar = Files.readString(Path.of(videos.get(0).toString().replace(".mp4", ".json")));
        assertThat(sidecar).contains("\"prompt\" : \"a small boat on a green river\"", "\"steps\" : 2");
        try (Stream<Path> s = Files.list(clips)) {
            assertThat(s.map(p -> p.getFileName().toString())).allMatch(n -> n.matches("[0-9a-f]{32}\\.(mp4|json)"));
        }

        CliTest.Result again = generate("--prompt", "a small boat on a green river");
        assertThat(again.code()).isZero();
        assertThat(again.out()).contains("1 clips (1 already done), 0 rendered, 0 failed");
        // the same command (out folder now existing) resumes the same run: the default run id is stable
        String runId = first.out().substring(first.out().indexOf("run ") + 4, first.out().indexOf(':'));
        assertThat(again.out()).startsWith("run " + runId + ":");
    }

    @Test
    void badFlagsAreUsageErrors() {
        assertThat(generate("--prompt", "x", "--size", "64by32").code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(CliTest.run("generate", "--model", "wan-tiny", "--out", "x").code()).isEqualTo(Main.EXIT_USAGE);
        CliTest.Result released = CliTest.run("generate", "--prompt", "x", "--model", "wan2.2-ti2v-5b", "--out",
                dir.resolve("o").toString());
        assertThat(released.code()).isEqualTo(Main.EXIT_FAILURE);
        assertThat(released.err()).contains("it is a released model; download its diffusers repo and pass --model DIR");
        CliTest.Result conf = generate("--prompt", "x", "--conf", "fs.s3a.endpoint=http://x");
        assertThat(conf.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(conf.err()).contains("Invalid --conf fs.s3a.endpoint: Spark settings start with 'spark.'");
        CliTest.Result missing = CliTest.run("generate", "--prompt", "x", "--model", dir.toUri() + "no-model",
                "--out", dir.resolve("o").toString());
        assertThat(missing.code()).isEqualTo(Main.EXIT_FAILURE);
        assertThat(missing.err()).contains("Cannot stage model " + dir.toUri() + "no-model: no such folder");
    }
}
