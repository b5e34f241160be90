package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.prompts.PolicyCanonicalizer;
import io.sparserender.testing.LocalSpark;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prompt files as users get them wrong, through the whole generate run (stand-in renderer): every bad
 * row is named in the rejected table with its row and reason, the good rows render, and nothing a row
 * holds ever becomes a path.
 */
class BadPromptFilesTest {
    @TempDir
    Path dir;

    @AfterEach
    void stopEngine() {
        ExecutorEngine.shutdown();
    }

    private GenerateOptions options(Path prompts, String runId) {
        return new GenerateOptions(prompts.toString(), null, dir.toUri() + "out/", runId, 0, 0.0, GenerateRunTest.DEFAULTS,
                PolicyCanonicalizer.ENGINE,
                new RendererSettings(StandInRendererFactory.class.getName(), "cpu", "wan-tiny", Map.of()),
                c -> 1.0, 10);
    }

    @Test
    void everyKindOfBadRowIsNamedAndTheGoodRowsRender() throws Exception {
        Map<String, String> lines = new LinkedHashMap<>(); // line text -> expected outcome
        lines.put("{\"id\":\"a\",\"prompt\":\"a cat\"}", "ok");
        lines.put("{\"prompt\":\"" + "m".repeat(1 << 20) + "\"}", "prompt is 1048576 bytes, over the 16384-byte limit");
        lines.put("{\"prompt\":\"" + "u".repeat(1 << 20), "malformed JSON: Unexpected end-of-input");
        lines.put("{\"prompt\":\"a\",\"prompt\":\"b\"}", "malformed JSON: Duplicate field 'prompt'");
        lines.put("{\"prompt\":5}", "prompt must be a string, got number 5");
        lines.put("{\"id\":\"no-prompt\"}", "prompt is missing or empty");
        lines.put("{\"prompt\":\"x\",\"frames\":100001}", "frames must be in [1, 1001], got 100001");
        lines.put("{\"prompt\":\"x\",\"width\":4097}", "width must be in [32, 4096], got 4097");
        lines.put("{\"prompt\":\"x\",\"policy\":\"topk:kk=2\"}", "policy 'topk:kk=2' is invalid: unknown key 'kk' for policy 'topk'");
        lines.put("{\"prompt\":\"x\",\"polciy\":\"dense\"}", "unknown field 'polciy'");
        lines.put("{\"prompt\":\"tab\u0001\"}", "malformed JSON: Illegal unquoted character");
        lines.put("{\"prompt\":\"bell\\u0007\"}", "prompt holds control character U+0007 at index 4");
        lines.put("{\"id\":\"a\",\"prompt\":\"an owl\"}", "duplicate id 'a' (first used on row 1");
        lines.put("{\"id\":\"b\",\"prompt\":\"a cat\",\"frames\":5,\"guidance\":5.0}", "duplicate"); // same clip as row 1
        lines.put("{\"id\":\"../../etc/passwd\",\"prompt\":\"../../x\"}", "ok");
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        for (String l : lines.keySet()) {
            file.write(l.getBytes(StandardCharsets.UTF_8));
            file.write('\n');
        }
        file.write(new byte[] {'{', '"', 'p', 'r', 'o', 'm', 'p', 't', '"', ':', '"', (byte) 0xFF, '"', '}', '\n'});
        Path prompts = dir.resolve("prompts.jsonl");
        Files.write(prompts, file.toByteArray());

        SparkSession spark = LocalSpark.get();
        GenerateRun.Summary s = new GenerateRun(spark, options(prompts, "bad")).run();
        assertThat(s.rows()).isEqualTo(lines.size() + 1);
        assertThat(s.rendered()).isEqualTo(2);
        assertThat(s.duplicateRows()).isEqualTo(1);
        assertThat(s.rejected()).isEqualTo(lines.size() + 1 - 3);

        Map<Long, String> reasons = new TreeMap<>();
        for (Row r : spark.read().parquet(dir.resolve("out/rejected").toString()).collectAsList()) {
            reasons.put(r.getLong(r.fieldIndex("row")), r.getString(r.fieldIndex("reason")));
            assertThat(r.getString(r.fieldIndex("source"))).endsWith("prompts.jsonl");
        }
        long row = 0;
        for (String expected : lines.values()) {
            row++;
            if (expected.equals("ok") || expected.equals("duplicate")) {
                assertThat(reasons).as("row %d", row).doesNotContainKey(row);
            } else {
                assertThat(reasons.get(row)).as("row %d", row).startsWith(expected);
            }
        }
        assertThat(reasons.get(row + 1)).isEqualTo("line is not valid UTF-8");
        assertThat(reasons.values()).allSatisfy(r -> assertThat(r.length()).as(r).isLessThan(300));

        // outputs only under out/, named by hashes; the '../../x' row made no path of its own
        try (Stream<Path> all = Files.walk(dir)) {
            List<Path> files = all.filter(Files::isRegularFile).toList();
            assertThat(files).allMatch(p -> p.equals(prompts) || p.startsWith(dir.resolve("out")));
            assertThat(files).noneMatch(p -> p.toString().contains("passwd") || p.getFileName().toString().equals("x"));
        }
        try (Stream<Path> clips = Files.list(dir.resolve("out/clips"))) {
            assertThat(clips.map(p -> p.getFileName().toString())).hasSize(4).allMatch(n -> n.matches("[0-9a-f]{32}\\.(mp4|json)"));
        }
    }

    @Test
    void aFileWithoutRowsIsOneClearError() throws Exception {
        for (String[] f : new String[][] {{"empty.jsonl", ""}, {"blank.jsonl", "\n  \n\r\n"}, {"header.csv", "id,prompt\n"},
                {"empty.csv", ""}}) {
            Path p = dir.resolve(f[0]);
            Files.writeString(p, f[1]);
            assertThatThrownBy(() -> new GenerateRun(LocalSpark.get(), options(p, "empty")).run())
                    .as(f[0]).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("Cannot render " + p + ": it holds no prompt rows");
        }
        assertThat(Files.exists(dir.resolve("out/clips"))).isFalse();
    }

    @Test
    void aMissingFileIsOneClearError() {
        Path p = dir.resolve("nightly/2026-11-27.jsonl");
        assertThatThrownBy(() -> new GenerateRun(LocalSpark.get(), options(p, "missing")).run())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("Cannot read prompts " + p + ": ")
                .hasMessageContaining("does not exist");
    }
}
