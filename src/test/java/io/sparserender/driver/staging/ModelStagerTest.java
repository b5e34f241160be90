package io.sparserender.driver.staging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.pipeline.ModelRepo;
import io.sparserender.testing.ModelUpload;
import io.sparserender.testing.S3TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Staging the generated wan-tiny repo from a real S3-compatible server through S3A. */
class ModelStagerTest {
    private static S3TestServer s3;
    private static Path model;
    private static long modelBytes;

    @TempDir
    static Path shared;

    @TempDir
    Path staging;

    @BeforeAll
    static void start() throws Exception {
        s3 = new S3TestServer();
        model = ModelUpload.tinyModel(shared.resolve("cache"));
        modelBytes = 0;
        for (Path f : ModelUpload.files(model)) {
            modelBytes += Files.size(f);
        }
    }

    @AfterAll
    static void stop() throws Exception {
        s3.close();
    }

    /** A bucket of its own holding the model under models/wan-tiny, with the sha256sum manifest if asked. */
    private String upload(boolean manifest) throws Exception {
        String bucket = s3.uniqueBucket("staging");
        try (var client = s3.client()) {
            ModelUpload.upload(client, bucket, "models/wan-tiny", model);
            if (manifest) {
                ModelUpload.put(client, bucket, "models/wan-tiny/" + ChecksumManifest.FILE, ModelUpload.sha256sums(model));
            }
        }
        return "s3a://" + bucket + "/models/wan-tiny";
    }

    private static FileSystem fs(String uri) throws Exception {
        return new org.apache.hadoop.fs.Path(uri).getFileSystem(s3.hadoopConf());
    }

    private List<String> stagingEntries() throws Exception {
        try (Stream<Path> s = Files.list(staging)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".lock")).sorted().toList();
        }
    }

    @Test
    void stagesEveryFileCheckedAgainstTheManifestThenReusesTheCopy() throws Exception {
        String uri = upload(true);
        FileSystem fs = fs(uri);
        ModelSource source = ModelSource.list(fs, uri);
        assertThat(source.checksummed()).isTrue();
        assertThat(source.files()).hasSize(ModelUpload.files(model).size());

        StagedModel first = new ModelStager(staging, 2).stage(source, fs);
        assertThat(first.reused()).isFalse();
        assertThat(first.bytesCopied()).isEqualTo(modelBytes);
        for (Path f : ModelUpload.files(model)) {
            assertThat(first.dir().resolve(model.relativize(f))).hasSameBinaryContentAs(f);
        }
        assertThat(ChecksumManifest.parse(Files.readAllBytes(first.dir().resolve(ChecksumManifest.STAGED)), "staged"))
                .isEqualTo(ChecksumManifest.parse(ModelUpload.sha256sums(model), "expected"));
        // the copy is the model: same preset and revision as the original folder, and as the driver computes remotely
        ModelRepo local = ModelRepo.resolve(model.toString(), staging);
        ModelRepo staged = ModelRepo.resolve(first.dir().toString(), staging);
        assertThat(staged.preset().name()).isEqualTo("wan-tiny");
        assertThat(staged.revision()).isEqualTo(local.revision());
        RemoteModel remote = RemoteModel.identify(uri, s3.hadoopConf());
        assertThat(remote.revision()).isEqualTo(local.revision());
        assertThat(remote.preset().name()).isEqualTo("wan-tiny");
        assertThat(remote.sourceKey()).isEqualTo(source.key());

        StagedModel again = new ModelStager(staging, 2).stage(ModelSource.list(fs, uri), fs);
        assertThat(again.reused()).isTrue();
        assertThat(again.bytesCopied()).isZero();
        assertThat(again.dir()).isEqualTo(first.dir());
        assertThat(stagingEntries()).containsExactly(first.dir().getFileName().toString());
    }

    @Test
    void concurrentStagingsOfOneModelCopyItOnce() throws Exception {
        String uri = upload(true);
        FileSystem fs = fs(uri);
        ModelSource source = ModelSource.list(fs, uri);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<StagedModel>> results = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Callable<StagedModel> c = () -> new ModelStager(staging, 2).stage(source, fs);
                results.add(pool.submit(c));
            }
            long copied = 0;
            int reused = 0;
            for (Future<StagedModel> f : results) {
                copied += f.get().bytesCopied();
                reused += f.get().reused() ? 1 : 0;
            }
            assertThat(copied).isEqualTo(modelBytes);
            assertThat(reused).isEqualTo(3);
        } finally {
            pool.shutdownNow();
        }
        assertThat(stagingEntries()).hasSize(1);
    }

    @Test
    void corruptedObjectIsRefusedWithTheFileNamedAndNothingLooksStaged() throws Exception {
        String uri = upload(true);
        String bucket = uri.substring(6, uri.indexOf('/', 6));
        String file = "vae/diffusion_pytorch_model.safetensors";
        byte[] bytes = Files.readAllBytes(model.resolve(file));
        bytes[bytes.length / 2] ^= 0x40; // one bit, same size: only the checksum can tell
        try (var client = s3.client()) {
            ModelUpload.put(client, bucket, "models/wan-tiny/" + file, bytes);
        }
        FileSystem fs = fs(uri);
        ModelSource source = ModelSource.list(fs, uri);
        assertThatThrownBy(() -> new ModelStager(staging, 2).stage(source, fs))
                .isInstanceOf(StagingException.class)
                .hasMessageStartingWith("Cannot stage model " + uri + ": " + file + " has SHA-256 ")
                .hasMessageContaining("but checksums.sha256 says")
                .hasMessageEndingWith("(corrupted) (after 3 attempts)");
        assertThat(stagingEntries()).isEmpty();
    }

    @Test
    void copyShorterThanListedIsRefused() throws Exception {
        String uri = upload(false);
        String bucket = uri.substring(6, uri.indexOf('/', 6));
        FileSystem fs = fs(uri);
        ModelSource source = ModelSource.list(fs, uri);
        assertThat(source.checksummed()).isFalse();
        String file = "transformer/diffusion_pytorch_model.safetensors";
        byte[] whole = Files.readAllBytes(model.resolve(file));
        try (var client = s3.client()) { // the object loses its tail after the listing
            ModelUpload.put(client, bucket, "models/wan-tiny/" + file, java.util.Arrays.copyOf(whole, whole.length - 100));
        }
        assertThatThrownBy(() -> new ModelStager(staging, 2).stage(source, fs))
                .isInstanceOf(StagingException.class)
                .hasMessage("Cannot stage model " + uri + ": " + file + " is " + (whole.length - 100) + " bytes, listed as "
                        + whole.length + " (truncated, or changed while staging) (after 3 attempts)");
        assertThat(stagingEntries()).isEmpty();
    }

    @Test
    void stagedCopyMissingAFileOrWithAShortFileIsStagedAgain() throws Exception {
        String uri = upload(false);
        FileSystem fs = fs(uri);
        ModelSource source = ModelSource.list(fs, uri);
        StagedModel first = new ModelStager(staging, 2).stage(source, fs);
        Files.delete(first.dir().resolve("text_encoder/config.json"));
        assertThat(ModelStager.problemWith(first.dir(), source)).isEqualTo("text_encoder/config.json is missing");

        StagedModel second = new ModelStager(staging, 2).stage(source, fs);
        assertThat(second.reused()).isFalse();
        assertThat(second.bytesCopied()).isEqualTo(modelBytes);
        assertThat(second.dir().resolve("text_encoder/config.json")).hasSameBinaryContentAs(model.resolve("text_encoder/config.json"));

        Path weights = second.dir().resolve("vae/diffusion_pytorch_model.safetensors");
        Files.write(weights, Arrays.copyOf(Files.readAllBytes(weights), 10));
        assertThat(ModelStager.problemWith(second.dir(), source))
                .isEqualTo("vae/diffusion_pytorch_model.safetensors is 10 bytes, expected " + Files.size(model.resolve(
                        "vae/diffusion_pytorch_model.safetensors")));
        StagedModel third = new ModelStager(staging, 2).stage(source, fs);
        assertThat(third.reused()).isFalse();
        assertThat(weights).hasSameBinaryContentAs(model.resolve("vae/diffusion_pytorch_model.safetensors"));
        assertThat(stagingEntries()).containsExactly(second.dir().getFileName().toString());
    }

    @Test
    void interruptedStagingsAreNeverUsedAndAreCleanedUp() throws Exception {
        String uri = upload(true);
        FileSystem fs = fs(uri);
        ModelSource source = ModelSource.list(fs, uri);
        ModelStager stager = new ModelStager(staging, 2);
        Path target = stager.target(source);
        // a JVM killed just before its rename leaves a complete-looking partial folder; a hand copy lacks the record
        Path partial = staging.resolve("." + target.getFileName() + ".partial-123");
        copyTree(model, partial);
        Files.write(partial.resolve(ChecksumManifest.STAGED), ModelUpload.sha256sums(model));
        copyTree(model, target);
        assertThat(ModelStager.problemWith(target, source)).isEqualTo("it has no .staged.sha256 (its copy never finished)");

        StagedModel staged = stager.stage(source, fs);
        assertThat(staged.reused()).isFalse();
        assertThat(staged.dir()).isEqualTo(target);
        assertThat(ModelStager.problemWith(target, source)).isNull();
        assertThat(stagingEntries()).containsExactly(target.getFileName().toString());
    }

    @Test
    void manifestMustCoverExactlyTheFolder() throws Exception {
        String uri = upload(true);
        String bucket = uri.substring(6, uri.indexOf('/', 6));
        FileSystem fs = fs(uri);
        try (var client = s3.client()) {
            ModelUpload.put(client, bucket, "models/wan-tiny/vae/extra.bin", new byte[] {1, 2, 3});
        }
        assertThatThrownBy(() -> ModelSource.list(fs, uri))
                .isInstanceOf(StagingException.class)
                .hasMessageStartingWith("Cannot stage model " + uri + ": checksums.sha256 has no checksum for vae/extra.bin");
        try (var client = s3.client()) {
            client.deleteObject(b -> b.bucket(bucket).key("models/wan-tiny/vae/extra.bin"));
            client.deleteObject(b -> b.bucket(bucket).key("models/wan-tiny/tokenizer/tokenizer.json"));
        }
        assertThatThrownBy(() -> ModelSource.list(fs, uri))
                .isInstanceOf(StagingException.class)
                .hasMessage("Cannot stage model " + uri + ": checksums.sha256 lists tokenizer/tokenizer.json but the folder "
                        + "has no such file");
    }

    @Test
    void badManifestLinesAreNamed() {
        assertThatThrownBy(() -> ChecksumManifest.parse("abc  x\n".getBytes(), "m"))
                .hasMessage("Invalid checksum manifest m line 1: expected '<64 hex digits>  <path>' (sha256sum output), got 'abc  x'");
        String hex = "0".repeat(64);
        assertThatThrownBy(() -> ChecksumManifest.parse((hex + "  a\n\n" + hex + "  ./a\n").getBytes(), "m"))
                .hasMessage("Invalid checksum manifest m line 3: 'a' is listed twice");
        assertThatThrownBy(() -> ChecksumManifest.parse((hex + "  ../etc/passwd\n").getBytes(), "m"))
                .hasMessage("Invalid checksum manifest m line 1: path '../etc/passwd' is not inside the model folder");
    }

    @Test
    void executorsRefuseAModelThatChangedSinceTheDriverListedIt() throws Exception {
        String uri = upload(true);
        String driverKey = ModelSource.list(fs(uri), uri).key();
        String bucket = uri.substring(6, uri.indexOf('/', 6));
        try (var client = s3.client()) {
            ModelUpload.put(client, bucket, "models/wan-tiny/" + ChecksumManifest.FILE,
                    (new String(ModelUpload.sha256sums(model)).replaceFirst("^.", "f")).getBytes());
        }
        StagingSettings settings = new StagingSettings(staging, 2);
        assertThatThrownBy(() -> ModelStaging.stage(uri, driverKey, settings, s3.hadoopConf()))
                .isInstanceOf(StagingException.class)
                .hasMessage("Cannot stage model " + uri + ": it changed since the driver read it (its files, sizes or "
                        + "checksums differ); rerun the job");
    }

    @Test
    void stagesFromAnyHadoopFileSystem() throws Exception {
        String uri = model.toUri().toString(); // file:///.../wan-tiny-<seed>/
        StagedModel staged = ModelStaging.stage(uri, null, new StagingSettings(staging, 1), new org.apache.hadoop.conf.Configuration());
        assertThat(staged.bytesCopied()).isEqualTo(modelBytes);
        assertThat(ModelRepo.resolve(staged.dir().toString(), staging).revision())
                .isEqualTo(ModelRepo.resolve(model.toString(), staging).revision());
    }

    @Test
    void missingFolderIsNamed() throws Exception {
        String bucket = s3.uniqueBucket("staging");
        String uri = "s3a://" + bucket + "/models/nothing-here";
        assertThatThrownBy(() -> ModelSource.list(fs(uri), uri)).hasMessage("Cannot stage model " + uri + ": no such folder");
    }

    private static void copyTree(Path from, Path to) throws Exception {
        for (Path f : ModelUpload.files(from)) {
            Path d = to.resolve(from.relativize(f));
            Files.createDirectories(d.getParent());
            Files.copy(f, d);
        }
    }
}
