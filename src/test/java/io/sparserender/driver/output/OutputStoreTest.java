package io.sparserender.driver.output;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.testing.S3TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputStoreTest {
    private static final String ID = "0123456789abcdef0123456789abcdef";
    private static S3TestServer s3;
    private static String bucket;

    @TempDir
    Path dir;

    @BeforeAll
    static void startS3() throws Exception {
        s3 = new S3TestServer();
        bucket = s3.uniqueBucket("renders");
    }

    @AfterAll
    static void stopS3() throws Exception {
        s3.close();
    }

    @Test
    void layoutDerivesPathsFromIdsOnly() {
        OutputLayout l = OutputLayout.of("s3a://renders/night");
        assertThat(l.video(ID).toString()).isEqualTo("s3a://renders/night/clips/" + ID + ".mp4");
        assertThat(l.sidecar(ID).toString()).isEqualTo("s3a://renders/night/clips/" + ID + ".json");
        assertThat(l.partition(l.statsTable("clips"), LocalDate.of(2026, 11, 26), "r-1").toString())
                .isEqualTo("s3a://renders/night/stats/clips/dt=2026-11-26/run_id=r-1");
        assertThat(l.manifest("r-1").toString()).isEqualTo("s3a://renders/night/runs/r-1.json");
        assertThatThrownBy(() -> l.video("../../x")).hasMessageStartingWith("Invalid clip id '../../x'");
        assertThatThrownBy(() -> l.manifest("../x")).hasMessageStartingWith("Invalid run id '../x'");
    }

    @Test
    void localWritesLeaveNoTemporaryFiles() throws Exception {
        OutputStore store = new OutputStore(OutputLayout.of(dir.toUri().toString()), new Configuration());
        store.writeAtomically(store.layout().video(ID), "v1".getBytes(StandardCharsets.UTF_8));
        store.writeAtomically(store.layout().video(ID), "v2".getBytes(StandardCharsets.UTF_8));
        store.writeAtomically(store.layout().sidecar(ID), "{}".getBytes(StandardCharsets.UTF_8));
        assertThat(new String(store.read(store.layout().video(ID)), StandardCharsets.UTF_8)).isEqualTo("v2");
        try (Stream<Path> files = Files.list(dir.resolve("clips"))) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".crc")))
                    .containsExactlyInAnyOrder(ID + ".mp4", ID + ".json");
        }
        assertThat(store.finishedClipIds()).containsExactly(ID);
    }

    @Test
    void s3aWritesThroughARealS3Server() {
        OutputStore store = new OutputStore(OutputLayout.of("s3a://" + bucket + "/night"), s3.hadoopConf());
        assertThat(store.finishedClipIds()).isEmpty();
        byte[] big = new byte[3 << 20];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 31);
        }
        store.writeAtomically(store.layout().video(ID), big);
        store.writeAtomically(store.layout().sidecar(ID), "{\"done\":true}".getBytes(StandardCharsets.UTF_8));
        assertThat(store.read(store.layout().video(ID))).isEqualTo(big);
        assertThat(store.finishedClipIds()).containsExactly(ID);
        try (var client = s3.client()) {
            assertThat(client.listObjectsV2(b -> b.bucket(bucket)).contents())
                    .extracting(o -> o.key())
                    .containsExactlyInAnyOrder("night/clips/" + ID + ".mp4", "night/clips/" + ID + ".json");
        }
    }
}
