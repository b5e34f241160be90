package io.sparserender.jobs;

import io.sparserender.engine.model.wan.SelfAttention;
import io.sparserender.engine.model.wan.TimestepEmbedding.Timesteps;
import io.sparserender.engine.model.wan.WanConfig;
import io.sparserender.engine.model.wan.WanInputs;
import io.sparserender.engine.model.wan.WanModelDir;
import io.sparserender.engine.model.wan.WanTransformer;
import io.sparserender.engine.model.wan.WanWeights;
import io.sparserender.engine.gpu.CudaDevice;
import io.sparserender.engine.gpu.CudaOps;
import io.sparserender.engine.gpu.OpTimer;
import io.sparserender.engine.ops.CpuOps;
import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.pipeline.CudaSelfAttention;
import io.sparserender.engine.pipeline.PolicySelfAttention;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.text.UmT5Encoder;
import io.sparserender.engine.vae.WanVaeConfig;
import io.sparserender.engine.vae.WanVaeDecoder;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.engine.weights.SafetensorsWriter;
import io.sparserender.engine.weights.TensorInfo;
import io.sparserender.engine.weights.WeightsException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * One forward of one checkpoint component on given inputs: checks that a downloaded part loads and runs,
 * and compares backends with references. The component is recognised from its folder: a Wan transformer,
 * a Wan VAE ({@code AutoencoderKLWan} config) or a umT5 text encoder ({@code model_type} umt5).
 */
@Command(name = "forward-check", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Run one forward pass of a model component on given inputs and write its output.",
            "Wan VAE folder (diffusers AutoencoderKLWan config): reads z [B, z_dim, T, h, w] (already de-normalised),"
                + " writes the decoded sample [B, 3, 1 + 4(T-1), H, W].",
            "umT5 text-encoder folder (transformers UMT5 config): reads input_ids and attention_mask [B, N] (I32 or I64),"
                + " writes last_hidden_state [B, N, d_model].",
            "Inputs (safetensors): hidden_states [B, C, F, H, W], timestep [B] or [B, L] (one per token, the Wan 2.2"
                + " TI2V form), encoder_hidden_states [B, T, text_dim] with T <= 512 (zero rows are appended up to 512"
                + " as the pipelines do). Output: sample [B, C, F, H, W] as F32.",
            "The model folder may be a transformer folder (config.json and safetensors, diffusers or original Wan"
                + " names, optionally prefixed model.diffusion_model.), a diffusers repo (transformer/, transformer_2/)"
                + " or an original A14B folder (high_noise_model/, low_noise_model/), or one .safetensors file without a"
                + " config (the config is then inferred from the tensor shapes, with head_dim 128)."})
final class ForwardCheckCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model folder (see above).")
    Path model;

    @Option(names = "--inputs", required = true, paramLabel = "IN.safetensors", description = "Input tensors.")
    Path inputs;

    @Option(names = "--out", required = true, paramLabel = "OUT.safetensors", description = "Where to write 'sample'.")
    Path out;

    @Option(names = "--backend", defaultValue = "cpu", paramLabel = "cpu|cuda",
            description = "cpu: the float32 reference. cuda: the GPU backend (bf16 weights and GEMM operands, fp32 residual and"
                    + " statistics; device 0 or SPARSE_RENDER_DEVICE). Default: ${DEFAULT-VALUE}.")
    String backend;

    @Option(names = "--policy", defaultValue = "dense", paramLabel = "SPEC",
            description = "Self-attention policy spec, e.g. dense, dynsparse:lambda=-9,bc=32, recall:r=0.95,order=local"
                    + " (sparse policies run the tiled reference on the CPU). Cross-attention is always dense."
                    + " Default: ${DEFAULT-VALUE}.")
    String policy;

    @Option(names = "--expert", paramLabel = "NAME",
            description = "Which transformer of a multi-expert folder (transformer, transformer_2, high_noise_model,"
                    + " low_noise_model). Default: the first (high-noise) one.")
    String expert;

    @Option(names = "--no-pad", description = "Use the encoder_hidden_states rows as given instead of padding them to"
            + " text_len, as diffusers' transformer module computes when called directly (real pipelines pad).")
    boolean noPad;

    @Option(names = "--arena-gib", defaultValue = "16", paramLabel = "GIB",
            description = "With --backend cuda: device memory reserved for weights and activations (default: ${DEFAULT-VALUE}).")
    long arenaGib;

    @Override
    public Integer call() {
        if (!backend.equals("cpu") && !backend.equals("cuda")) {
            throw new UsageException("unknown backend '" + backend + "': expected cpu or cuda");
        }
        try {
            io.sparserender.engine.attention.PolicySpec.parse(policy);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        if (backend.equals("cuda")) {
            CudaDevice device = CudaDevice.open(CudaDevice.Options.defaults().withArenaBytes(arenaGib << 30));
            CudaOps g = new CudaOps(device);
            return device.call(() -> run(g, CudaSelfAttention.forSpec(policy, OpTimer.OFF)));
        }
        return run(new CpuOps(), PolicySelfAttention.forSpec(policy));
    }

    private <T> int run(Ops<T> ops, SelfAttention<T> selfAttention) {
        PrintWriter o = spec.commandLine().getOut();
        if (java.nio.file.Files.isDirectory(model) && WanVaeConfig.isWanVaeFolder(model)) {
            return forwardVae(ops, o);
        }
        if (isTextEncoderFolder(model)) {
            return forwardTextEncoder(ops, o);
        }
        WanModelDir dir = WanModelDir.resolve(model);
        WanModelDir.Expert ex = expert == null ? dir.experts().get(0) : dir.expert(expert);
        WanConfig c = ex.config();

        Tensor hidden;
        Tensor text;
        Timesteps timesteps;
        try (SafetensorsFile in = SafetensorsFile.open(inputs)) {
            for (String name : new String[] {"hidden_states", "timestep", "encoder_hidden_states"}) {
                if (!in.contains(name)) {
                    throw new WeightsException("Invalid inputs " + inputs + ": tensor '" + name + "' is missing (it has "
                            + in.tensors().keySet() + ")");
                }
            }
            TensorInfo ts = in.info("timestep");
            WanInputs.check(c, in.info("hidden_states").shape(), ts.shape(), in.info("encoder_hidden_states").shape());
            hidden = in.readTensor("hidden_states");
            text = in.readTensor("encoder_hidden_states");
            double[] tv = in.readDoubles("timestep");
            timesteps = new Timesteps(tv, ts.shape()[0], ts.shape().length == 1 ? 1 : ts.shape()[1]);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("Invalid inputs " + inputs + ": " + e.getMessage(), e);
        }

        long t0 = System.nanoTime();
        WanWeights<T> weights = ex.load(ops);
        long t1 = System.nanoTime();
        WanTransformer<T> dit = new WanTransformer<>(ops, weights, selfAttention);
        WanTransformer.Prompt<T> prompt = dit.encodePrompt(ops.fromHost(text), !noPad);
        Tensor sample = ops.toHost(dit.forward(ops.fromHost(hidden), timesteps, prompt));
        long t2 = System.nanoTime();
        new SafetensorsWriter().metadata("producer", "sparse-render forward-check").add("sample", sample).write(out);

        o.printf("model            %s (expert %s of %s; %s names%s)%n", ex.folder(), ex.name(), dir.experts().size(),
                weights.layout().name().toLowerCase(java.util.Locale.ROOT), weights.prefixed() ? ", model.diffusion_model. prefix" : "");
        o.printf("config           dim %d, %d layers, %d heads x %d, ffn %d, in/out %d/%d, text %d, %s parameters%s%n",
                c.dim(), c.numLayers(), c.numHeads(), c.headDim(), c.ffnDim(), c.inChannels(), c.outChannels(), c.textDim(),
                count(c.parameterCount()), ex.inferred() ? " (no config.json: inferred from the tensor shapes, head_dim "
                        + WanConfig.INFERRED_HEAD_DIM + " assumed)" : "");
        o.printf("hidden_states    %s -> %d tokens%n", Arrays.toString(hidden.shape()), WanInputs.tokens(c, hidden.shape()));
        o.printf("timestep         %s%s%n", timesteps.perSample() == 1 ? "[" + timesteps.batch() + "]"
                : "[" + timesteps.batch() + ", " + timesteps.perSample() + "]", timesteps.perSample() == 1 ? " (one per sample)" : " (one per token)");
        o.printf("encoder_hidden   %s%s%n", Arrays.toString(text.shape()), prompt.padded()
                ? ", padded with zero rows from " + prompt.realTokens() + " to " + prompt.rows()
                : noPad && prompt.realTokens() < c.textLen() ? ", not padded (--no-pad)" : "");
        o.printf("backend, policy  %s, %s self-attention, dense cross-attention%n", ops.backend(), policy);
        o.printf("time             load %.2f s, forward %.2f s%n", (t1 - t0) / 1e9, (t2 - t1) / 1e9);
        o.printf("sample           %s, rms %.6g -> %s%n", Arrays.toString(sample.shape()), rms(sample), out);
        long bad = nonFinite(sample);
        if (bad > 0) {
            throw new IllegalStateException("the forward produced " + bad + " non-finite values in 'sample' (written to "
                    + out + " for inspection)");
        }
        return Main.EXIT_OK;
    }

    private <T> int forwardVae(Ops<T> ops, PrintWriter o) {
        long t0 = System.nanoTime();
        WanVaeDecoder<T> vae = WanVaeDecoder.load(ops, model);
        Tensor z;
        try (SafetensorsFile in = SafetensorsFile.open(inputs)) {
            requireTensors(in, "z");
            z = in.readTensor("z");
        }
        if (z.rank() != 5 || z.dim(1) != vae.config().zDim()) {
            throw new IllegalArgumentException("Invalid inputs " + inputs + ": z " + Arrays.toString(z.shape())
                    + " must be [B, " + vae.config().zDim() + ", T, h, w]");
        }
        long t1 = System.nanoTime();
        Tensor sample = ops.toHost(vae.decode(ops.fromHost(z)));
        long t2 = System.nanoTime();
        new SafetensorsWriter().metadata("producer", "sparse-render forward-check").add("sample", sample).write(out);
        o.printf("model            %s (Wan VAE, z_dim %d, x%d space, x%d time)%n", model, vae.config().zDim(),
                vae.config().spatialFactor(), vae.config().temporalFactor());
        o.printf("z                %s%n", Arrays.toString(z.shape()));
        o.printf("time             load %.2f s, decode %.2f s%n", (t1 - t0) / 1e9, (t2 - t1) / 1e9);
        o.printf("sample           %s, rms %.6g -> %s%n", Arrays.toString(sample.shape()), rms(sample), out);
        return checkFinite(sample);
    }

    private <T> int forwardTextEncoder(Ops<T> ops, PrintWriter o) {
        int[][] ids;
        int[][] mask;
        try (SafetensorsFile in = SafetensorsFile.open(inputs)) {
            requireTensors(in, "input_ids", "attention_mask");
            ids = rows(in, "input_ids");
            mask = rows(in, "attention_mask");
        }
        if (ids.length != mask.length || ids.length > 0 && ids[0].length != mask[0].length) {
            throw new IllegalArgumentException("Invalid inputs " + inputs + ": input_ids and attention_mask shapes differ");
        }
        long t0 = System.nanoTime();
        try (UmT5Encoder<T> enc = UmT5Encoder.open(model, ops)) {
            long t1 = System.nanoTime();
            Tensor hidden = ops.toHost(enc.forward(ids, mask));
            long t2 = System.nanoTime();
            new SafetensorsWriter().metadata("producer", "sparse-render forward-check").add("last_hidden_state", hidden).write(out);
            o.printf("model            %s (umT5 encoder, d_model %d, %d layers)%n", model, enc.config().dModel(),
                    enc.config().numLayers());
            o.printf("input_ids        [%d, %d]%n", ids.length, ids.length == 0 ? 0 : ids[0].length);
            o.printf("time             load %.2f s, forward %.2f s%n", (t1 - t0) / 1e9, (t2 - t1) / 1e9);
            o.printf("last_hidden      %s, rms %.6g -> %s%n", Arrays.toString(hidden.shape()), rms(hidden), out);
            return checkFinite(hidden);
        }
    }

    private static boolean isTextEncoderFolder(Path dir) {
        Path cfg = dir.resolve("config.json");
        if (!java.nio.file.Files.isRegularFile(cfg)) {
            return false;
        }
        try {
            String type = new com.fasterxml.jackson.databind.ObjectMapper().readTree(cfg.toFile()).path("model_type").asText("");
            return type.equals("umt5") || type.equals("t5");
        } catch (java.io.IOException e) {
            throw new WeightsException("Cannot read " + cfg + ": " + e.getMessage(), e);
        }
    }

    private void requireTensors(SafetensorsFile in, String... names) {
        for (String name : names) {
            if (!in.contains(name)) {
                throw new WeightsException("Invalid inputs " + inputs + ": tensor '" + name + "' is missing (it has "
                        + in.tensors().keySet() + ")");
            }
        }
    }

    private int[][] rows(SafetensorsFile in, String name) {
        TensorInfo t = in.info(name);
        if (t.shape().length != 2) {
            throw new IllegalArgumentException("Invalid inputs " + inputs + ": " + name + " " + Arrays.toString(t.shape())
                    + " must be [B, N]");
        }
        long[] v = in.readLongs(name);
        int[][] out = new int[t.shape()[0]][t.shape()[1]];
        for (int i = 0; i < v.length; i++) {
            out[i / t.shape()[1]][i % t.shape()[1]] = Math.toIntExact(v[i]);
        }
        return out;
    }

    private int checkFinite(Tensor t) {
        long bad = nonFinite(t);
        if (bad > 0) {
            throw new IllegalStateException("the forward produced " + bad + " non-finite values (written to " + out
                    + " for inspection)");
        }
        return Main.EXIT_OK;
    }

    private static String count(long n) {
        return n >= 1_000_000_000L ? String.format("%.2f B", n / 1e9) : String.format("%.2f M", n / 1e6);
    }

    private static long nonFinite(Tensor t) {
        long n = 0;
        for (float v : t.data()) {
            if (!Float.isFinite(v)) {
                n++;
            }
        }
        return n;
    }

    private static double rms(Tensor t) {
        double s = 0;
        for (float v : t.data()) {
            s += (double) v * v;
        }
        return Math.sqrt(s / Math.max(1, t.numel()));
    }
}
