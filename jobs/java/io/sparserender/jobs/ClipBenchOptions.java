package io.sparserender.jobs;

import io.sparserender.engine.gpu.CudaDevice;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The options `bench generate` and `bench vae` share: which preset's shapes, the clip's size and frames, the
 * seed, where the random weights are written once, where the MP4 goes, and the device arena.
 */
final class ClipBenchOptions {
    @Option(names = "--config", defaultValue = "wan2.2-ti2v-5b", description = "a built-in preset (default: ${DEFAULT-VALUE})")
    String config;

    @Option(names = "--frames", defaultValue = "121", description = "video frames (default: ${DEFAULT-VALUE})")
    int frames;

    @Option(names = "--size", defaultValue = "1280x704", description = "WIDTHxHEIGHT (default: ${DEFAULT-VALUE})")
    String size;

    @Option(names = "--seed", defaultValue = "1")
    long seed;

    @Option(names = "--cache", defaultValue = "/tmp/sparse-render-models", description = "where the random weights are written once")
    Path cache;

    @Option(names = "--out", defaultValue = "/tmp/sparse-render-bench-out", description = "where the MP4 goes")
    Path out;

    @Option(names = "--arena-gib", defaultValue = "0", description = "device memory reserved; 0: all free memory but a reserve")
    long arenaGib;

    /** Opens the device with the asked arena and prints the device line the benchmarks start with. */
    CudaDevice openDevice() {
        CudaDevice device = CudaDevice.open(CudaDevice.Options.defaults().withArenaBytes(arenaGib << 30));
        System.out.println("{\"device\":\"" + device.info().name() + "\",\"arena_gib\":"
                + device.arena().capacityBytes() / (1L << 30) + "}");
        return device;
    }
}
