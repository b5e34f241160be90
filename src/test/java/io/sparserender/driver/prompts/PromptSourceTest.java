package io.sparserender.driver.prompts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.testing.LocalSpark;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PromptSourceTest {
    @TempDir
    Path dir;

    private final RowValidator validator = new RowValidator(RowValidatorTest.DEFAULTS, RowValidatorTest.POLICIES);

    private static String summary(Validation v) {
        if (v instanceof Validation.Accepted a) {
            return a.row() + " ok " + a.spec().prompt();
        }
        Validation.Rejected r = (Validation.Rejected) v;
        return r.row() + " rejected " + r.reason();
    }

    @Test
    void jsonLinesKeepsGoodRowsAndNamesEveryBadOne() throws Exception {
        Path p = dir.resolve("prompts.jsonl");
        byte[] bad = {'{', '"', 'p', 'r', 'o', 'm', 'p', 't', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'};
        String text = "{\"prompt\":\"a cat\"}\n"
                + "{\"prompt\": \"broken\n"
                + "\n"
                + "[1,2]\n"
                + "{\"prompt\":\"a dog\",\"frames\":7}\r\n";
        byte[] head = text.getBytes(StandardCharsets.UTF_8);
        byte[] all = new byte[head.length + bad.length + 1 + 20];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(bad, 0, all, head.length, bad.length);
        byte[] tail = "\n{\"prompt\":\"owl\"}\n".getBytes(StandardCharsets.UTF_8);
        all = java.util.Arrays.copyOf(all, head.length + bad.length + tail.length);
        System.arraycopy(tail, 0, all, head.length + bad.length, tail.length);
        Files.write(p, all);

        List<Validation> rows = PromptSource.read(LocalSpark.get(), p.toString(), PromptFormat.JSONL, validator);
        assertThat(rows).extracting(PromptSourceTest::summary).containsExactly(
                "1 ok a cat",
                "2 rejected malformed JSON: Unexpected end-of-input: was expecting closing quote for a string value",
                "4 rejected line is not a JSON object",
                "5 rejected frames must be 4k+1 (1, 5, 9, ..., 81, 121), got 7",
                "6 rejected line is not valid UTF-8",
                "7 ok owl");
        assertThat(((Validation.Rejected) rows.get(1)).source()).endsWith("prompts.jsonl");
    }

    @Test
    void csvWithHeaderAndQuotedNewlines() throws Exception {
        Path p = dir.resolve("prompts.csv");
        Files.writeString(p, "id,prompt,frames\n"
                + "a,\"a cat, on a mat\",9\n"
                + "b,\"two\nlines\",\n"
                + "c,x,nine\n");
        List<Validation> rows = PromptSource.read(LocalSpark.get(), p.toString(), PromptFormat.CSV, validator);
        assertThat(rows).extracting(PromptSourceTest::summary).containsExactly(
                "1 ok a cat, on a mat", "2 ok two\nlines", "3 rejected frames must be an integer, got 'nine'");
    }

    @Test
    void csvThatIsNotUtf8IsRejectedWholeAndAHugeFieldByItsSize() throws Exception {
        Path bad = dir.resolve("latin1.csv");
        Files.write(bad, "prompt\ncaf\u00e9\n".getBytes(StandardCharsets.ISO_8859_1));
        assertThat(PromptSource.read(LocalSpark.get(), bad.toString(), PromptFormat.CSV, validator))
                .extracting(PromptSourceTest::summary).containsExactly("0 rejected file is not valid UTF-8");
        Path huge = dir.resolve("huge.csv");
        Files.writeString(huge, "prompt,frames\n\"" + "z".repeat(1 << 20) + "\",5\nsmall,5\n");
        assertThat(PromptSource.read(LocalSpark.get(), huge.toString(), PromptFormat.CSV, validator))
                .extracting(PromptSourceTest::summary)
                .containsExactly("1 rejected prompt is 1048576 bytes, over the 16384-byte limit", "2 ok small");
    }

    @Test
    void parquetRowsAreTypedAndNumbered() {
        SparkSession spark = LocalSpark.get();
        StructType schema = new StructType().add("prompt", DataTypes.StringType).add("frames", DataTypes.IntegerType)
                .add("guidance", DataTypes.DoubleType);
        String out = dir.resolve("prompts.parquet").toString();
        spark.createDataFrame(List.of(RowFactory.create("a", 9, 4.0), RowFactory.create("", 9, 4.0),
                RowFactory.create("c", 6, null)), schema).coalesce(1).write().parquet(out);
        List<Validation> rows = PromptSource.read(spark, out, PromptFormat.PARQUET, validator);
        assertThat(rows).extracting(PromptSourceTest::summary).containsExactly(
                "1 ok a", "2 rejected prompt is missing or empty", "3 rejected frames must be 4k+1 (1, 5, 9, ..., 81, 121), got 6");
    }

    @Test
    void missingFileIsOneClearError() {
        String missing = dir.resolve("nope.jsonl").toString();
        assertThatThrownBy(() -> PromptSource.read(LocalSpark.get(), missing, PromptFormat.JSONL, validator))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("Cannot read prompts " + missing + ": ")
                .hasMessageContaining("does not exist");
    }

    @Test
    void formatFollowsTheExtension() {
        assertThat(PromptFormat.ofPath("s3a://b/p/2026-11-26.JSONL")).isEqualTo(PromptFormat.JSONL);
        assertThat(PromptFormat.ofPath("x.csv")).isEqualTo(PromptFormat.CSV);
        assertThat(PromptFormat.ofPath("hdfs:///p/day.parquet/")).isEqualTo(PromptFormat.PARQUET);
        assertThatThrownBy(() -> PromptFormat.ofPath("x.txt")).hasMessageStartingWith("Cannot tell the format of prompts x.txt");
    }
}
