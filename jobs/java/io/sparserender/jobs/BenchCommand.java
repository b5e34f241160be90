package io.sparserender.jobs;

import io.sparserender.engine.gpu.Conv3dBenchmark;
import io.sparserender.engine.gpu.Conv3dGeometry;
import io.sparserender.engine.gpu.CudaVaeKernels.ConvTile;
import io.sparserender.engine.tensor.DType;
import java.util.ArrayList;
import java.util.Locale;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.PolicySpec;
import io.sparserender.engine.attention.VideoLikeInputs;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.gpu.AttentionBenchmark;
import io.sparserender.engine.gpu.AttentionKernel;
import io.sparserender.engine.gpu.CudaAttention;
import io.sparserender.engine.gpu.CudaDevice;
import io.sparserender.engine.gpu.GemmBenchmark;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Benchmarks; `bench gemm` times both GEMM implementations on the device. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmarks (attention, GEMM, DiT forward, whole generation, VAE decode, VAE convolutions).",
            "Available: gemm, attention, dit, generate, vae, conv3d."},
        subcommands = {BenchCommand.Gemm.class, BenchCommand.Attention.class, BenchCommand.Dit.class, BenchCommand.Generate.class,
            BenchCommand.Vae.class, BenchCommand.Conv3d.class})
final class BenchCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new UsageException("choose a benchmark: gemm, attention, dit, generate, vae, conv3d");
    }

    /** A built-in preset named by --config, or a usage error naming the flag. */
    static io.sparserender.engine.model.wan.WanPreset preset(String config) {
        if (!io.sparserender.engine.model.wan.WanPreset.BUILT_IN.contains(config)) {
            throw new UsageException("--config " + config + ": not a built-in preset " + io.sparserender.engine.model.wan.WanPreset.BUILT_IN);
        }
        try {
            return io.sparserender.engine.model.wan.WanPreset.builtIn(config);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--config " + config + ": " + e.getMessage());
        }
    }

    /** --size WIDTHxHEIGHT as {width, height}, or a usage error naming the flag. */
    static int[] size(String size) {
        String[] wh = size.toLowerCase(java.util.Locale.ROOT).split("x");
        try {
            if (wh.length != 2) {
                throw new IllegalArgumentException("not two numbers");
            }
            return new int[] {Integer.parseInt(wh[0].strip()), Integer.parseInt(wh[1].strip())};
        } catch (RuntimeException e) {
            throw new UsageException("--size " + size + ": expected WIDTHxHEIGHT, e.g. 1280x704");
        }
    }

    @Command(name = "gemm", mixinStandardHelpOptions = true,
            description = {"Time the GEMM implementations (own kernel, cuBLASLt) on the GPU: bf16 in, fp32 accumulate, bf16 out.",
                "One JSON line per implementation and shape; median of --iters after --warmups (CUDA events)."})
    static final class Gemm implements Callable<Integer> {
        @Option(names = "--shape", split = ";", description = "MxNxK, repeatable (default: 8192^3 and the TI2V-5B DiT's three)")
        List<String> shapes = List.of("8192x8192x8192", "27280x3072x3072", "27280x14336x3072", "27280x3072x14336");

        @Option(names = "--warmups", defaultValue = "2")
        int warmups;

        @Option(names = "--iters", defaultValue = "5")
        int iters;

        @Option(names = "--arena-gib", defaultValue = "6", description = "device memory reserved for the operands")
        long arenaGib;

        @Override
        public Integer call() {
            for (String s : shapes) {
                GemmBenchmark.parseShape(s);
            }
            CudaDevice device = CudaDevice.open(CudaDevice.Options.defaults().withArenaBytes(arenaGib << 30));
            System.out.println("{\"device\":\"" + device.info().name() + "\",\"gemm_chosen\":\"" + device.gemm().name() + "\"}");
            GemmBenchmark bench = new GemmBenchmark(device, warmups, iters);
            for (String s : shapes) {
                int[] mnk = GemmBenchmark.parseShape(s);
                bench.run(mnk[0], mnk[1], mnk[2], System.out);
            }
            return Main.EXIT_OK;
        }
    }

    @Command(name = "attention", mixinStandardHelpOptions = true,
            description = {"Time the CUDA attention kernels on the GPU: bf16 q, k, v [B, L, H, D], fp32 out,",
                "on video-like inputs; one JSON line per shape, kernel and policy, median of --iters after --warmups (CUDA events).",
                "Every policy spec (br=64, bc 32 or 64, D 64 or 128; br=128 for listed policies at bc 64, D 128 on ws); a pre-pass (topk, topp, hybrid, orders local/estimate)",
                "is timed with the call and alone (plan_ms); order=local uses the shape's grid.",
                "TFLOP/s is dense-equivalent (4·B·H·L²·D / t); real_tflop subtracts the FLOPs of skipped tiles."})
    static final class Attention implements Callable<Integer> {
        @Option(names = "--shape", split = ";",
                description = "B:FRAMESxROWSxCOLS:H:D, repeatable (default: the Wan shapes 1:31x22x40:24:128 (L 27,280) and 1:21x45x80:40:128 (L 75,600))")
        List<String> shapes = List.of("1:31x22x40:24:128", "1:21x45x80:40:128");

        @Option(names = "--policy", split = ";", description = "policy specs (any policy and order; br=64, bc 32 or 64; br=128 for listed policies on ws), repeatable")
        List<String> policies = List.of("dense:br=64,bc=64", "dense:br=64,bc=32", "dynsparse:lambda=-9,br=64,bc=32",
                "dynsparse:lambda=-9,br=64,bc=64", "blasst:scale=1,br=64,bc=64", "recall:r=0.95,br=64,bc=64",
                "hybrid:r=0.95,br=64,bc=64");

        @Option(names = "--kernel", split = ",",
                description = "kernel families to time, in this order: ws (warp-specialised, TMA producer and two consumer "
                        + "warpgroups, compute 9.0), wg1 / wg1-lean (one warpgroup per CTA, compute 9.0), wg1-pv (wg1 with PV "
                        + "under the next block's softmax), wg2 (two warpgroups per CTA), mma-sync (every card); default: the "
                        + "configured one (SPARSE_RENDER_ATTENTION_KERNEL, ws unless set) and mma-sync")
        List<String> kernels;

        @Option(names = "--gen-heads", defaultValue = "4", description = "video-like heads generated on the host, repeated over H")
        int genHeads;

        @Option(names = "--seed", defaultValue = "1")
        long seed;

        @Option(names = "--peak", split = ",", description = "video-like attention peaks (nats over the mean logit) to run, "
                + "each a pass over every shape and policy (default: " + VideoLikeInputs.DEFAULT_PEAK + "; larger = sparser)")
        List<Double> peaks = List.of(VideoLikeInputs.DEFAULT_PEAK);

        @Option(names = "--warmups", defaultValue = "2")
        int warmups;

        @Option(names = "--iters", defaultValue = "5")
        int iters;

        @Option(names = "--arena-gib", defaultValue = "8", description = "device memory reserved for the operands")
        long arenaGib;

        @Override
        public Integer call() {
            List<AttentionPolicy> parsed;
            try {
                parsed = policies.stream().map(PolicySpec::parse).toList();
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            for (double peak : peaks) {
                if (!(peak >= 0) || Double.isInfinite(peak)) {
                    throw new UsageException("--peak " + peak + ": must be a finite number >= 0");
                }
            }
            List<AttentionKernel> families;
            try {
                families = kernels == null ? null : kernels.stream().map(k -> AttentionKernel.parse(k, "--kernel")).toList();
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            int[][] dims = new int[shapes.size()][];
            VideoGrid[] grids = new VideoGrid[shapes.size()];
            for (int i = 0; i < shapes.size(); i++) {
                String[] p = shapes.get(i).split(":");
                if (p.length != 4) {
                    throw new UsageException("--shape " + shapes.get(i) + ": expected B:FRAMESxROWSxCOLS:H:D");
                }
                try {
                    dims[i] = new int[] {Integer.parseInt(p[0].strip()), Integer.parseInt(p[2].strip()), Integer.parseInt(p[3].strip())};
                    grids[i] = VideoGrid.parse(p[1]);
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--shape " + shapes.get(i) + ": " + e.getMessage());
                }
                for (AttentionPolicy a : parsed) {
                    String why = CudaAttention.refusal(a, dims[i][2]);
                    if (why != null) {
                        throw new UsageException("--policy " + a.spec() + " is not run by the kernels at D = " + dims[i][2] + ": " + why);
                    }
                }
            }
            CudaDevice device = CudaDevice.open(CudaDevice.Options.defaults().withArenaBytes(arenaGib << 30));
            System.out.println("{\"device\":\"" + device.info().name() + "\"}");
            AttentionBenchmark bench = families == null ? new AttentionBenchmark(device, warmups, iters)
                    : new AttentionBenchmark(device, warmups, iters, families);
            for (double peak : peaks) {
                VideoLikeInputs.Knobs knobs = VideoLikeInputs.Knobs.defaults().withPeak(peak);
                for (int i = 0; i < shapes.size(); i++) {
                    bench.run(dims[i][0], grids[i], dims[i][1], dims[i][2], genHeads, parsed, knobs, seed, System.out);
                }
            }
            return Main.EXIT_OK;
        }
    }

    @Command(name = "dit", mixinStandardHelpOptions = true,
            description = {"Time one DiT forward on the GPU (random weights made on the device): total (CUDA events, median of",
                "--iters after --warmups) and a split into GEMMs, attention and the rest from one further, op-by-op timed forward.",
                "One JSON line per policy."})
    static final class Dit implements Callable<Integer> {
        @Option(names = "--config", defaultValue = "wan2.2-ti2v-5b", description = "a built-in model preset (default: ${DEFAULT-VALUE})")
        String config;

        @Option(names = "--random-weights", required = true, description = "random weights made on the device (required: no checkpoint is read)")
        boolean randomWeights;

        @Option(names = "--frames", defaultValue = "121", description = "video frames (default: ${DEFAULT-VALUE})")
        int frames;

        @Option(names = "--size", defaultValue = "1280x704", description = "WIDTHxHEIGHT in pixels (default: ${DEFAULT-VALUE})")
        String size;

        @Option(names = "--batch", defaultValue = "1", description = "latent batch (2 = the guided pair; default: ${DEFAULT-VALUE})")
        int batch;

        @Option(names = "--policy", split = ";", description = "self-attention policy specs, repeatable (default: dense; dynsparse:lambda=-9,bc=32; recall:r=0.95)")
        List<String> policies = List.of("dense", "dynsparse:lambda=-9,br=64,bc=32", "recall:r=0.95");

        @Option(names = "--seed", defaultValue = "1")
        long seed;

        @Option(names = "--warmups", defaultValue = "1")
        int warmups;

        @Option(names = "--iters", defaultValue = "3")
        int iters;

        @Option(names = "--arena-gib", defaultValue = "40", description = "device memory reserved (default: ${DEFAULT-VALUE})")
        long arenaGib;

        @Override
        public Integer call() {
            io.sparserender.engine.model.wan.WanPreset preset = preset(config);
            int[] wh = size(size);
            int width = wh[0];
            int height = wh[1];
            int spatial = "wan2.2".equals(preset.vae()) ? 16 : 8;
            var c = preset.transformer();
            if (width % (spatial * c.patchW()) != 0 || height % (spatial * c.patchH()) != 0) {
                throw new UsageException("--size " + size + ": width and height must be multiples of " + spatial * c.patchW());
            }
            if (frames < 1 || (frames - 1) % 4 != 0) {
                throw new UsageException("--frames " + frames + ": must be 1 + 4k");
            }
            if (batch < 1) {
                throw new UsageException("--batch " + batch + ": must be at least 1");
            }
            for (String p : policies) {
                try {
                    PolicySpec.parse(p);
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--policy " + p + ": " + e.getMessage());
                }
            }
            CudaDevice device = CudaDevice.open(CudaDevice.Options.defaults().withArenaBytes(arenaGib << 30));
            System.out.println("{\"device\":\"" + device.info().name() + "\",\"gemm\":\"" + device.gemm().name() + "\",\"config\":\""
                    + preset.name() + "\",\"frames\":" + frames + ",\"size\":\"" + width + "x" + height + "\"}");
            new io.sparserender.engine.bench.DitBenchmark(device, warmups, iters).run(c, batch, (frames - 1) / 4 + 1,
                    height / spatial, width / spatial, policies, seed, System.out);
            return Main.EXIT_OK;
        }
    }

    @Command(name = "vae", mixinStandardHelpOptions = true,
            description = {"The VAE decode of one clip on the GPU: a preset's decoder shapes with random weights (written once",
                "under --cache), normal latents of the clip's size, decoded chunk by chunk into H.264. Prints the time and",
                "the device memory the decode needs over what was in use before it."})
    static final class Vae implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        ClipBenchOptions clip;

        @Override
        public Integer call() {
            io.sparserender.engine.model.wan.WanPreset preset = preset(clip.config);
            int[] wh = size(clip.size);
            if (clip.frames < 1) {
                throw new UsageException("--frames " + clip.frames + ": must be at least 1");
            }
            CudaDevice device = clip.openDevice();
            try {
                io.sparserender.engine.bench.VaeBenchmark.run(device, preset, clip.cache, clip.out, wh[0], wh[1], clip.frames, clip.seed,
                        System.out);
            } catch (IllegalArgumentException e) {
                throw new UsageException("--size " + clip.size + " --frames " + clip.frames + ": " + e.getMessage());
            }
            return Main.EXIT_OK;
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = {"One whole generation on the GPU at a released preset's shapes with random weights (written once as a",
                "bf16 diffusers repo under --cache): text, every step, VAE decode and H.264, timed per stage, with the arena's peak."})
    static final class Generate implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        ClipBenchOptions clip;

        @Option(names = "--random-weights", required = true, description = "random weights (required: released weights are not downloaded)")
        boolean randomWeights;

        @Option(names = "--steps", defaultValue = "50")
        int steps;

        @Option(names = "--policy", defaultValue = "dense")
        String policy;

        @Option(names = "--clips", defaultValue = "1", description = {"clips rendered one after another by the same renderer "
                + "(seeds seed, seed + 1, ...): the first pays the one-time costs (pinned host memory for the parked text encoder, "
                + "first use of each GEMM shape), the later ones are what a batch job's executor sees per clip"})
        int clips;

        @Option(names = "--model-only", description = {"only write the random repo under --cache (no device needed) and print "
                + "its folder, e.g. for `generate --model FOLDER` (bench/scale-gpus.sh)"})
        boolean modelOnly;

        @Option(names = "--linked-experts", description = {"write a two-expert preset's first expert only and link the second to it",
                "(identical random weights, still loaded and swapped as two experts): for a disk that cannot hold both"})
        boolean linkedExperts;

        /** The random repo under --cache, written once; a heap too small for the writer is said with the fix. */
        private io.sparserender.engine.pipeline.ModelRepo writeModel(io.sparserender.engine.model.wan.WanPreset preset) {
            try {
                return io.sparserender.engine.pipeline.FullSizeRandomModel.resolve(preset, clip.seed, clip.cache, linkedExperts);
            } catch (OutOfMemoryError e) {
                throw new IllegalStateException(heapAdvice("Writing the random " + preset.name() + " repo under " + clip.cache), e);
            }
        }

        private static String heapAdvice(String what) {
            return what + " ran out of Java heap (" + Runtime.getRuntime().maxMemory() / (1L << 20)
                    + " MiB): give it more, e.g. SPARSE_RENDER_JAVA_OPTS=-Xmx64g (the writer holds a shard and a batch of tensors)";
        }

        @Override
        public Integer call() {
            io.sparserender.engine.model.wan.WanPreset preset = preset(clip.config);
            if (modelOnly) {
                long t0 = System.nanoTime();
                io.sparserender.engine.pipeline.ModelRepo repo = writeModel(preset);
                System.out.printf(java.util.Locale.ROOT, "{\"model\":\"%s\",\"write_s\":%.1f}%n", repo.root(),
                        (System.nanoTime() - t0) * 1e-9);
                return Main.EXIT_OK;
            }
            try {
                PolicySpec.parse(policy);
            } catch (IllegalArgumentException e) {
                throw new UsageException("--policy " + policy + ": " + e.getMessage());
            }
            if (clips < 1) {
                throw new UsageException("--clips must be at least 1, got " + clips);
            }
            int[] wh = size(clip.size);
            CudaDevice device = clip.openDevice();
            try {
                io.sparserender.engine.bench.GenerateBenchmark.run(device, preset, clip.cache, clip.out, wh[0], wh[1], clip.frames, steps,
                        policy, clip.seed, clips, linkedExperts, System.out);
            } catch (OutOfMemoryError e) {
                throw new IllegalStateException(heapAdvice("Writing, loading or rendering the random " + preset.name() + " repo"), e);
            }
            return Main.EXIT_OK;
        }
    }

    @Command(name = "conv3d", mixinStandardHelpOptions = true,
            description = {"Time the VAE's 3D convolution (conv3d_igemm.cu: implicit GEMM, bf16 mma.sync, fp32 accumulation) on the GPU,",
                "plus its weight packing and the fused channel RMS norm + SiLU on its output. One JSON line per measurement;",
                "median of --iters after --warmups (CUDA events); TFLOP/s = 2·M·N·K / t with M = T'·H'·W', N = O, K = C·kt·kh·kw."})
    static final class Conv3d implements Callable<Integer> {
        @Option(names = "--shape", split = ";",
                description = "CxTxHxW:O:KTxKHxKW (padding k/2 in space), repeatable (default: the Wan 2.2 5B decoder's convolutions at 1280x704)")
        List<String> shapes = Conv3dBenchmark.WAN22_SHAPES;

        @Option(names = "--dtype", defaultValue = "bf16", description = "activations: bf16 or f32 (weights are bf16)")
        String dtype;

        @Option(names = "--tile", defaultValue = "auto",
                description = "auto (the tile conv3d picks), all (every tile the device runs), 256, 128, 64, 32 (mma.sync) or sm90 (wgmma, compute 9.0)")
        String tile;

        @Option(names = "--warmups", defaultValue = "2")
        int warmups;

        @Option(names = "--iters", defaultValue = "5")
        int iters;

        @Option(names = "--arena-gib", defaultValue = "8", description = "device memory reserved for the operands")
        long arenaGib;

        @Override
        public Integer call() {
            List<Conv3dGeometry> geometries = new ArrayList<>();
            for (String s : shapes) {
                try {
                    geometries.add(Conv3dBenchmark.parseShape(s));
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--shape: " + e.getMessage());
                }
            }
            DType dt = switch (dtype.strip().toLowerCase(Locale.ROOT)) {
                case "bf16" -> DType.BF16;
                case "f32" -> DType.F32;
                default -> throw new UsageException("--dtype " + dtype + ": expected bf16 or f32");
            };
            List<ConvTile> tiles = new ArrayList<>();
            switch (tile.strip().toLowerCase(Locale.ROOT)) {
                case "auto" -> tiles.add(null);
                case "all" -> tiles = null;
                case "sm90" -> tiles.add(ConvTile.SM90_N256);
                default -> {
                    for (ConvTile t : ConvTile.values()) {
                        if (!t.hopperOnly() && tile.strip().equals(String.valueOf(t.bn()))) {
                            tiles.add(t);
                        }
                    }
                    if (tiles.isEmpty()) {
                        throw new UsageException("--tile " + tile + ": expected auto, all, 256, 128, 64, 32 or sm90");
                    }
                }
            }
            CudaDevice device = CudaDevice.open(CudaDevice.Options.defaults().withArenaBytes(arenaGib << 30));
            System.out.println("{\"device\":\"" + device.info().name() + "\"}");
            Conv3dBenchmark bench = new Conv3dBenchmark(device, warmups, iters);
            for (Conv3dGeometry g : geometries) {
                bench.run(g, dt, tiles, System.out);
            }
            return Main.EXIT_OK;
        }
    }
}
