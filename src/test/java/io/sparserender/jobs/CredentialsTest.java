package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.testing.CapturedLogs;
import io.sparserender.testing.LocalSpark;
import io.sparserender.testing.S3TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.logging.log4j.Level;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * S3 credentials given as users give them (Spark configuration {@code spark.hadoop.fs.s3a.*}, here as
 * JVM properties, with {@code spark.logConf} on) never show up in what generate and report log, print
 * or write: every log line at INFO (DEBUG for sparse-render, S3A's credential and client set-up, the AWS
 * SDK's credentials and requests), the console output,
 * and every object both jobs leave in the bucket, including a failed clip and a failed run.
 */
class CredentialsTest {
    @TempDir
    Path dir;

    private final List<String> properties = new ArrayList<>();

    @AfterEach
    void clear() {
        properties.forEach(System::clearProperty);
        ExecutorEngine.shutdown();
        LocalSpark.stopAll();
    }

    private void property(String key, String value) {
        System.setProperty(key, value);
        properties.add(key);
    }

    @Test
    void credentialsAppearInNoLogNoConsoleAndNoOutput() throws Exception {
        try (S3TestServer s3 = new S3TestServer()) {
            String bucket = s3.uniqueBucket("secrets");
            s3.hadoopConf().forEach(e -> {
                if (e.getKey().startsWith("fs.s3a.") && s3.hadoopConf().getPropertySources(e.getKey()) != null
                        && String.join(",", s3.hadoopConf().getPropertySources(e.getKey())).contains("programmatically")) {
                    property("spark.hadoop." + e.getKey(), e.getValue());
                }
            });
            assertThat(System.getProperty("spark.hadoop.fs.s3a.secret.key")).isEqualTo(S3TestServer.SECRET_KEY);
            property("spark.logConf", "true");
            LocalSpark.stopAll(); // a new session, built from these properties
            Path prompts = dir.resolve("p.jsonl");
            Files.writeString(prompts, "{\"prompt\":\"a lighthouse\"}\n"
                    + "{\"prompt\":\"too big\",\"width\":4096,\"height\":4096,\"frames\":1001}\n{\"prompt\":\"\"}\n");
            String out = "s3a://" + bucket + "/renders";
            CliTest.Result generate;
            CliTest.Result report;
            CliTest.Result missingBucket;
            String logs;
            // DEBUG where credentials are handled and requests are made (all of S3A at DEBUG is 10 MB a run)
            try (CapturedLogs captured = new CapturedLogs(Level.INFO, Map.of("io.sparserender", Level.DEBUG,
                    "org.apache.hadoop.fs.s3a.auth", Level.DEBUG, "org.apache.hadoop.fs.s3a.S3AUtils", Level.DEBUG,
                    "org.apache.hadoop.fs.s3a.DefaultS3ClientFactory", Level.DEBUG, "software.amazon.awssdk.auth", Level.DEBUG,
                    "software.amazon.awssdk.request", Level.DEBUG))) {
                generate = CliTest.run("generate", "--prompts", prompts.toString(), "--model", "wan-tiny", "--model-cache",
                        dir.resolve("cache").toString(), "--out", out, "--size", "64x32", "--frames", "5", "--steps", "2");
                report = CliTest.run("report", "--stats", out, "--out", "s3a://" + bucket + "/report");
                missingBucket = CliTest.run("generate", "--prompts", prompts.toString(), "--model", "wan-tiny",
                        "--model-cache", dir.resolve("cache").toString(), "--out", "s3a://no-such-bucket-" + bucket + "/x",
                        "--size", "64x32", "--frames", "5", "--steps", "2");
                logs = captured.text();
            }
            assertThat(generate.code()).as(generate.err()).isEqualTo(Main.EXIT_FAILURE); // the too-big clip failed alone
            assertThat(generate.out()).contains("1 rendered, 1 failed");
            assertThat(report.code()).as(report.err()).isZero();
            assertThat(missingBucket.code()).isEqualTo(Main.EXIT_FAILURE);
            assertThat(missingBucket.err()).contains("NoSuchBucket");
            // the capture saw the runs: Spark's logged configuration, the SDK's requests, our own lines
            assertThat(logs).contains("spark.hadoop.fs.s3a.secret.key=*********(redacted)", "software.amazon.awssdk.request",
                    "Renderer ready", "over the 2147483639 one CPU tensor");
            for (String secret : new String[] {S3TestServer.SECRET_KEY, S3TestServer.ACCESS_KEY}) {
                assertThat(logs).as("logs").doesNotContain(secret);
                for (CliTest.Result r : new CliTest.Result[] {generate, report, missingBucket}) {
                    assertThat(r.out() + r.err()).as("console").doesNotContain(secret);
                }
            }
            try (var client = s3.client()) {
                var objects = client.listObjectsV2Paginator(b -> b.bucket(bucket)).contents().stream().toList();
                assertThat(objects).extracting(o -> o.key()).contains("report/report.html").anyMatch(k -> k.startsWith("renders/runs/"));
                for (var o : objects) {
                    String body = client.getObjectAsBytes(b -> b.bucket(bucket).key(o.key())).asString(StandardCharsets.ISO_8859_1);
                    assertThat(body).as(o.key()).doesNotContain(S3TestServer.SECRET_KEY).doesNotContain(S3TestServer.ACCESS_KEY);
                }
            }
        }
    }
}
