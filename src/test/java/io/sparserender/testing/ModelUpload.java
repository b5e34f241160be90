package io.sparserender.testing;

import io.sparserender.engine.pipeline.ModelRepo;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A real model folder (the generated wan-tiny, diffusers layout) and ways to put it on the S3 test
 * server, with or without the {@code checksums.sha256} that sha256sum would write.
 */
public final class ModelUpload {
    private ModelUpload() {}

    /** The generated wan-tiny repo (transformer/, text_encoder/, tokenizer/, vae/) under {@code cache}. */
    public static Path tinyModel(Path cache) {
        return ModelRepo.resolve("wan-tiny", cache).root();
    }

    public static List<Path> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        }
    }

    /** Uploads every file of {@code dir} under {@code s3://bucket/prefix/}; returns the total bytes. */
    public static long upload(S3Client s3, String bucket, String prefix, Path dir) throws IOException {
        long bytes = 0;
        for (Path f : files(dir)) {
            put(s3, bucket, prefix + "/" + dir.relativize(f), Files.readAllBytes(f));
            bytes += Files.size(f);
        }
        return bytes;
    }

    public static void put(S3Client s3, String bucket, String key, byte[] content) {
        s3.putObject(b -> b.bucket(bucket).key(key), RequestBody.fromBytes(content));
    }

    /** What {@code (cd dir && find . -type f -print0 | xargs -0 sha256sum)} prints, in path order. */
    public static byte[] sha256sums(Path dir) throws Exception {
        StringBuilder b = new StringBuilder();
        for (Path f : files(dir)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (InputStream in = Files.newInputStream(f)) {
                md.update(in.readAllBytes());
            }
            b.append(HexFormat.of().formatHex(md.digest())).append("  ./").append(dir.relativize(f)).append('\n');
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }
}
