package io.sparserender.driver.job;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.driver.executor.ExecutorEngine;
import io.sparserender.driver.executor.RendererSettings;
import io.sparserender.driver.prompts.PolicyCanonicalizer;
import io.sparserender.engine.pipeline.ClipSpec;
import io.sparserender.testing.FaultyTcpProxy;
import io.sparserender.testing.LocalSpark;
import io.sparserender.testing.S3TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Storage failing under a run, against the in-process S3 server through Hadoop S3A: uploads cut half
 * way by a fault-injecting proxy, and the server stopped and restarted. A watcher lists the bucket
 * all along and checks that every object it can see is complete.
 */
class StorageFaultsTest {
    private static final int VIDEO_BYTES = 64 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @AfterEach
    void stopEngine() {
        ExecutorEngine.shutdown();
    }

    private static void useS3(SparkSession spark, Configuration s3, Map<String, String> extra) {
        var hc = spark.sparkContext().hadoopConfiguration();
        s3.forEach(e -> hc.set(e.getKey(), e.getValue()));
        extra.forEach(hc::set);
    }

    private GenerateOptions options(int clips, String out, String runId, long delayMs) throws Exception {
        Path prompts = dir.resolve("prompts-" + clips + ".jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < clips; i++) {
            lines.add("{\"prompt\":\"clip number " + i + "\",\"seed\":" + i + "}");
        }
        Files.write(prompts, lines);
        return new GenerateOptions(prompts.toString(), null, out, runId, 0, 0.0, GenerateRunTest.DEFAULTS,
                PolicyCanonicalizer.ENGINE, new RendererSettings(StandInRendererFactory.class.getName(), "cpu", "wan-tiny",
                        Map.of("video_bytes", String.valueOf(VIDEO_BYTES), "delay_ms", String.valueOf(delayMs))),
                c -> 1.0, 1.5);
    }

    @Test
    void uploadsCutHalfWayAreRetriedAndNoPartialObjectIsEverVisible() throws Exception {
        try (S3TestServer s3 = new S3TestServer(); FaultyTcpProxy network = new FaultyTcpProxy(s3.endpoint())) {
            String bucket = s3.uniqueBucket("cut");
            SparkSession spark = LocalSpark.get();
            useS3(spark, s3.hadoopConf(network.endpoint()), Map.of("fs.s3a.retry.interval", "100ms"));
            network.cutUploads(16 * 1024, 4);
            String out = "s3a://" + bucket + "/nightly/";
            GenerateRun.Summary run;
            try (Watcher watcher = new Watcher(s3, bucket, "nightly/clips/")) {
                run = new GenerateRun(spark, options(8, out, "cut", 0)).run();
                watcher.assertNothingPartialSeen();
            }
            assertThat(network.cuts()).isEqualTo(4);
            assertThat(network.cutRequests()).allSatisfy(r -> assertThat(r).matches("PUT /" + bucket
                    + "/nightly/clips/[0-9a-f]{32}\\.mp4 HTTP/1\\.1"));
            assertThat(run.rendered()).isEqualTo(8);
            assertThat(run.failed()).isZero();
            assertExactlyOnce(s3, bucket, spark, out, 8);

            GenerateRun.Summary rerun = new GenerateRun(spark, options(8, out, "cut", 0)).run();
            assertThat(rerun.rendered()).isZero();
            assertThat(rerun.alreadyDone()).isEqualTo(8);
            assertExactlyOnce(s3, bucket, spark, out, 8);
        }
    }

    @Test
    void theServerStoppedMidRunFailsTheRunCleanlyAndARerunCompletesTheSetOnce() throws Exception {
        try (S3TestServer s3 = new S3TestServer()) {
            String bucket = s3.uniqueBucket("restart");
            SparkSession spark = LocalSpark.get();
            // a retry budget of about a second, so the outage below outlasts it
            useS3(spark, s3.hadoopConf(), Map.of("fs.s3a.retry.interval", "100ms", "fs.s3a.retry.limit", "2",
                    "fs.s3a.attempts.maximum", "2", "fs.s3a.connection.establish.timeout", "2s"));
            String out = "s3a://" + bucket + "/nightly/";
            int clips = 12;
            GenerateOptions options = options(clips, out, "restart", 300);
            Throwable firstError = null;
            try (Watcher watcher = new Watcher(s3, bucket, "nightly/clips/")) {
                CompletableFuture<GenerateRun.Summary> first = CompletableFuture.supplyAsync(() -> new GenerateRun(spark, options).run());
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (watcher.sidecars() < 3 && System.nanoTime() < deadline && !first.isDone()) {
                    Thread.sleep(50);
                }
                assertThat(watcher.sidecars()).as("clips done before the stop").isBetween(3, clips - 1);
                s3.stop();
                Thread.sleep(6000);
                s3.restart();
                try {
                    first.get(120, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    firstError = e.getCause();
                }
                GenerateRun.Summary rerun = new GenerateRun(spark, options).run();
                assertThat(rerun.failed()).isZero();
                assertThat(rerun.alreadyDone() + rerun.rendered()).isEqualTo(clips);
                assertThat(rerun.alreadyDone()).isGreaterThanOrEqualTo(3);
                assertThat(rerun.statsClipRows()).isEqualTo(clips);
                watcher.assertNothingPartialSeen();
            }
            assertThat(firstError).as("the run under the outage").isNotNull()
                    .hasMessageStartingWith("Cannot render run restart: ").hasMessageContaining("s3a://" + bucket + "/nightly/");
            assertExactlyOnce(s3, bucket, spark, out, clips);
            assertThat(new GenerateRun(spark, options).run().rendered()).isZero();
            assertExactlyOnce(s3, bucket, spark, out, clips);
        }
    }

    /** Every clip once and complete, and one stats row per clip. */
    private static void assertExactlyOnce(S3TestServer s3, String bucket, SparkSession spark, String out, int clips)
            throws Exception {
        try (S3Client client = s3.client()) {
            List<S3Object> objects = client.listObjectsV2Paginator(b -> b.bucket(bucket).prefix("nightly/clips/"))
                    .contents().stream().toList();
            assertThat(objects).hasSize(2 * clips);
            for (S3Object o : objects) {
                String name = o.key().substring("nightly/clips/".length());
                String id = name.substring(0, 32);
                byte[] body = client.getObjectAsBytes(b -> b.bucket(bucket).key(o.key())).asByteArray();
                if (name.endsWith(".mp4")) {
                    assertThat(body).as(o.key()).hasSize(VIDEO_BYTES);
                    String head = new String(body, StandardCharsets.UTF_8).replaceAll("x+$", "");
                    assertThat(ClipSpec.fromCanonicalJson(head.substring("frames of ".length())).clipId()).isEqualTo(id);
                } else {
                    assertThat(JSON.readTree(body).get("video_bytes").asInt()).as(o.key()).isEqualTo(VIDEO_BYTES);
                }
            }
        }
        var stats = spark.read().parquet(out + "stats/clips");
        assertThat(stats.count()).isEqualTo(clips);
        assertThat(stats.select("clip_id").distinct().count()).isEqualTo(clips);
        assertThat(spark.read().parquet(out + "stats/layer_steps").count()).isEqualTo(clips * 3L * 2);
    }

    /** S3Proxy's file store writes each upload to "key-UUID" and renames it; its listings show those (S3 does not). */
    private static final java.util.regex.Pattern S3PROXY_TEMP = java.util.regex.Pattern.compile(
            ".*-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /** Lists the clips folder directly (not through the proxy) every few milliseconds and checks what it sees. */
    private static final class Watcher implements AutoCloseable {
        private final S3Client client;
        private final String bucket;
        private final String prefix;
        private final Thread thread;
        private final List<String> problems = new CopyOnWriteArrayList<>();
        private final AtomicInteger sidecars = new AtomicInteger();
        private final AtomicInteger looks = new AtomicInteger();
        private volatile boolean stop;

        Watcher(S3TestServer s3, String bucket, String prefix) {
            this.client = s3.client();
            this.bucket = bucket;
            this.prefix = prefix;
            this.thread = new Thread(this::loop, "s3-watcher");
            thread.setDaemon(true);
            thread.start();
        }

        int sidecars() {
            return sidecars.get();
        }

        private void loop() {
            while (!stop) {
                try {
                    Map<String, Long> sizes = new HashMap<>();
                    for (S3Object o : client.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix)).contents()) {
                        if (!S3PROXY_TEMP.matcher(o.key()).matches()) {
                            sizes.put(o.key(), o.size());
                        }
                    }
                    int json = 0;
                    for (Map.Entry<String, Long> e : sizes.entrySet()) {
                        if (e.getKey().endsWith(".mp4") && e.getValue() != VIDEO_BYTES) {
                            problems.add(e.getKey() + " visible with " + e.getValue() + " bytes");
                        } else if (e.getKey().endsWith(".json")) {
                            json++;
                            check(e.getKey());
                        } else if (!e.getKey().endsWith(".mp4")) {
                            problems.add("unexpected object " + e.getKey());
                        }
                    }
                    sidecars.set(json);
                    looks.incrementAndGet();
                } catch (RuntimeException e) {
                    // the server is down, or an object went away between listing and reading: look again
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        /** A visible sidecar parses and its video is there, whole. */
        private void check(String key) {
            try {
                JsonNode s = JSON.readTree(client.getObjectAsBytes(b -> b.bucket(bucket).key(key)).asByteArray());
                String video = key.replace(".json", ".mp4");
                long size = client.headObject(b -> b.bucket(bucket).key(video)).contentLength();
                if (s.get("video_bytes").asLong() != VIDEO_BYTES || size != VIDEO_BYTES) {
                    problems.add(key + " names " + s.get("video_bytes") + " bytes, its video has " + size);
                }
            } catch (java.io.IOException e) {
                problems.add(key + " is not whole JSON: " + e.getMessage());
            }
        }

        void assertNothingPartialSeen() {
            assertThat(looks.get()).as("listings made").isPositive();
            assertThat(problems).isEmpty();
        }

        @Override
        public void close() throws Exception {
            stop = true;
            thread.join(10_000);
            client.close();
        }
    }
}
