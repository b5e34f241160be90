package io.sparserender.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparserender.engine.model.wan.WanConfig;
import io.sparserender.engine.model.wan.WanKeys;
import io.sparserender.engine.tensor.DType;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.testing.CheckpointRewrite;
import io.sparserender.testing.SharedFixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ForwardCheckCommandTest {
    @TempDir
    Path tmp;

    @Test
    void runsTheFixtureInBothLayoutsAndMatchesDiffusers() throws IOException {
        Path diffusers = SharedFixtures.path("wan-dit-ti2v");
        Path original = tmp.resolve("original");
        CheckpointRewrite.rewrite(diffusers.resolve("transformer"), original, WanKeys::toOriginal, 1);
        WanConfig cfg = WanConfig.read(diffusers.resolve("transformer/config.json"));
        Files.writeString(original.resolve("config.json"), new ObjectMapper().writeValueAsString(cfg.toOriginalJson("ti2v")));
        Path in = SharedFixtures.path("wan-dit-ti2v/case-token-t.safetensors");

        for (Path model : new Path[] {diffusers, original}) {
            Path out = tmp.resolve(model.getFileName() + "-out.safetensors");
            CliTest.Result r = CliTest.run("forward-check", "--model", model.toString(), "--inputs", in.toString(),
                    "--out", out.toString(), "--no-pad");
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.out()).contains("timestep         [1, 24] (one per token)", "not padded (--no-pad)",
                    "hidden_states    [1, 48, 2, 6, 8] -> 24 tokens", model == original ? "original names" : "diffusers names");
            try (SafetensorsFile o = SafetensorsFile.open(out); SafetensorsFile f = SafetensorsFile.open(in)) {
                assertThat(o.info("sample").dtype()).isEqualTo(DType.F32);
                assertThat(relL2(o.readTensor("sample"), f.readTensor("expected"))).isLessThan(1e-4);
            }
        }
    }

    @Test
    void decodesLatentsWithAVaeFolderLikeDiffusers() throws IOException {
        for (String vae : new String[] {"wan-vae21", "wan-vae22"}) {
            Path out = tmp.resolve(vae + ".safetensors");
            Path in = SharedFixtures.path(vae + "/case-decode.safetensors");
            CliTest.Result r = CliTest.run("forward-check", "--model", SharedFixtures.path(vae + "/vae").toString(),
                    "--inputs", in.toString(), "--out", out.toString());
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.out()).contains("(Wan VAE, z_dim");
            try (SafetensorsFile o = SafetensorsFile.open(out); SafetensorsFile f = SafetensorsFile.open(in)) {
                assertThat(o.info("sample").shape()).containsExactly(1, 3, 9, 32, 48);
                assertThat(relL2(o.readTensor("sample"), f.readTensor("expected"))).as(vae).isLessThan(1e-4);
            }
        }
    }

    @Test
    void encodesTokensWithATextEncoderFolderLikeTransformers() throws IOException {
        Path out = tmp.resolve("umt5.safetensors");
        Path in = SharedFixtures.path("umt5/case-encode.safetensors");
        CliTest.Result r = CliTest.run("forward-check", "--model", SharedFixtures.path("umt5/text_encoder").toString(),
                "--inputs", in.toString(), "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("umT5 encoder, d_model 64", "input_ids        [2, 40]");
        try (SafetensorsFile o = SafetensorsFile.open(out); SafetensorsFile f = SafetensorsFile.open(in)) {
            assertThat(relL2(o.readTensor("last_hidden_state"), f.readTensor("expected"))).isLessThan(1e-4);
        }
        CliTest.Result missing = CliTest.run("forward-check", "--model", SharedFixtures.path("umt5/text_encoder").toString(),
                "--inputs", SharedFixtures.path("attn-d128.safetensors").toString(), "--out", out.toString());
        assertThat(missing.code()).isEqualTo(Main.EXIT_FAILURE);
        assertThat(missing.err()).contains("tensor 'input_ids' is missing");
    }

    @Test
    void padsTheTextToFiveHundredTwelveRowsByDefaultAndSaysSo() {
        Path out = tmp.resolve("out.safetensors");
        CliTest.Result r = CliTest.run("forward-check", "--model", SharedFixtures.path("wan-dit-ti2v").toString(),
                "--inputs", SharedFixtures.path("wan-dit-ti2v/case-scalar-t.safetensors").toString(), "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("encoder_hidden   [2, 9, 32], padded with zero rows from 9 to 512", "timestep         [2] (one per sample)");
        assertThat(Files.exists(out)).isTrue();
    }

    @Test
    void expertPicksATransformerOfARepoWithTwo() throws IOException {
        Path repo = tmp.resolve("a14b-like");
        for (String sub : new String[] {"transformer", "transformer_2"}) {
            Files.createDirectories(repo.resolve(sub));
            for (String f : new String[] {"config.json", "diffusion_pytorch_model.safetensors"}) {
                Files.copy(SharedFixtures.path("wan-dit-ti2v/transformer/" + f), repo.resolve(sub).resolve(f));
            }
        }
        String in = SharedFixtures.path("wan-dit-ti2v/case-scalar-t.safetensors").toString();
        String out = tmp.resolve("o.safetensors").toString();
        CliTest.Result first = CliTest.run("forward-check", "--model", repo.toString(), "--inputs", in, "--out", out);
        assertThat(first.out()).contains("(expert transformer of 2;");
        CliTest.Result second = CliTest.run("forward-check", "--model", repo.toString(), "--inputs", in, "--out", out,
                "--expert", "transformer_2");
        assertThat(second.code()).as(second.err()).isZero();
        assertThat(second.out()).contains("(expert transformer_2 of 2;");
        CliTest.Result none = CliTest.run("forward-check", "--model", repo.toString(), "--inputs", in, "--out", out,
                "--expert", "low_noise_model");
        assertThat(none.code()).isEqualTo(Main.EXIT_FAILURE);
        assertThat(none.err()).contains("Cannot find expert 'low_noise_model' in " + repo + ": it has [transformer, transformer_2]");
    }

    @Test
    void unknownBackendsAndPoliciesAreRefusedWithOneLine() {
        String[] base = {"forward-check", "--model", "m", "--inputs", "i", "--out", "o"};
        CliTest.Result tpu = CliTest.run(concat(base, "--backend", "tpu"));
        assertThat(tpu.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(tpu.err()).startsWith("sparse-render forward-check: unknown backend 'tpu': expected cpu or cuda");
        if (io.sparserender.engine.gpu.GpuEnvironment.probe().devices().isEmpty()) {
            // no GPU here: the CUDA backend fails once, with one line saying why
            CliTest.Result cuda = CliTest.run(concat(base, "--backend", "cuda"));
            assertThat(cuda.code()).isEqualTo(Main.EXIT_FAILURE);
            assertThat(cuda.err()).startsWith("sparse-render forward-check: ");
            assertThat(cuda.err().strip().lines().count()).isEqualTo(1);
        }
        CliTest.Result unknown = CliTest.run(concat(base, "--policy", "magic:x=1"));
        assertThat(unknown.code()).isEqualTo(Main.EXIT_USAGE);
        assertThat(unknown.err()).startsWith("sparse-render forward-check: Invalid policy spec 'magic:x=1': unknown policy 'magic'");
    }

    @Test
    void sparsePoliciesRunThroughTheTiledReferenceAndStayCloseToDense() throws IOException {
        Path in = SharedFixtures.path("wan-dit-h128/case-scalar-t.safetensors");
        Path model = SharedFixtures.path("wan-dit-h128");
        Path dense = tmp.resolve("dense.safetensors");
        Path sparse = tmp.resolve("sparse.safetensors");
        assertThat(CliTest.run("forward-check", "--model", model.toString(), "--inputs", in.toString(), "--out",
                dense.toString(), "--no-pad").code()).isZero();
        CliTest.Result r = CliTest.run("forward-check", "--model", model.toString(), "--inputs", in.toString(), "--out",
                sparse.toString(), "--no-pad", "--policy", "recall:r=0.99,br=16,bc=16,order=local");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("recall:r=0.99");
        try (SafetensorsFile d = SafetensorsFile.open(dense); SafetensorsFile s = SafetensorsFile.open(sparse)) {
            assertThat(relL2(s.readTensor("sample"), d.readTensor("sample"))).isLessThan(0.05);
        }
    }

    @Test
    void badInputsNameTheTensor() throws IOException {
        Path model = SharedFixtures.path("wan-dit-ti2v");
        Path noTimestep = tmp.resolve("no-t.safetensors");
        new SafetensorsWriter().add("hidden_states", Tensor.zeros(1, 48, 2, 6, 8))
                .add("encoder_hidden_states", Tensor.zeros(1, 9, 32)).write(noTimestep);
        CliTest.Result r = run(model, noTimestep);
        assertThat(r.code()).isEqualTo(Main.EXIT_FAILURE);
        assertThat(r.err()).contains("tensor 'timestep' is missing").doesNotContain("\tat ");

        Path wrongChannels = tmp.resolve("c16.safetensors");
        new SafetensorsWriter().add("hidden_states", Tensor.zeros(1, 16, 2, 6, 8)).add("timestep", Tensor.zeros(1))
                .add("encoder_hidden_states", Tensor.zeros(1, 9, 32)).write(wrongChannels);
        r = run(model, wrongChannels);
        assertThat(r.code()).isEqualTo(Main.EXIT_FAILURE);
        assertThat(r.err()).contains("Invalid input 'hidden_states' [1, 16, 2, 6, 8]: 16 channels, the model takes 48");

        Path wrongTokens = tmp.resolve("t.safetensors");
        new SafetensorsWriter().add("hidden_states", Tensor.zeros(1, 48, 2, 6, 8)).add("timestep", Tensor.zeros(1, 23))
                .add("encoder_hidden_states", Tensor.zeros(1, 9, 32)).write(wrongTokens);
        r = run(model, wrongTokens);
        assertThat(r.err()).contains("Invalid input 'timestep' [1, 23]: expected [1] or [1, 24]");
    }

    @Test
    void aBrokenCheckpointGivesTheOneErrorListing() throws IOException {
        Path broken = tmp.resolve("broken");
        Path src = SharedFixtures.path("wan-dit-ti2v/transformer");
        CheckpointRewrite.rewrite(src, broken, n -> n.equals("proj_out.bias") ? "proj_out.beta" : n, 1);
        Files.copy(src.resolve("config.json"), broken.resolve("config.json"));
        CliTest.Result r = run(broken, SharedFixtures.path("wan-dit-ti2v/case-scalar-t.safetensors"));
        assertThat(r.code()).isEqualTo(Main.EXIT_FAILURE);
        assertThat(r.err()).contains("2 problems; missing 1: 'proj_out.bias' [192] (original name 'head.head.bias');"
                + " unexpected 1: 'proj_out.beta' [192]");
        assertThat(r.err().strip().lines().count()).isEqualTo(1);
    }

    private CliTest.Result run(Path model, Path in) {
        return CliTest.run("forward-check", "--model", model.toString(), "--inputs", in.toString(),
                "--out", tmp.resolve("x.safetensors").toString());
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static double relL2(Tensor a, Tensor b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.numel(); i++) {
            double d = (double) a.data()[i] - b.data()[i];
            num += d * d;
            den += (double) b.data()[i] * b.data()[i];
        }
        return Math.sqrt(num / den);
    }
}
