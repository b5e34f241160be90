package io.sparserender.engine.gpu;

import static io.sparserender.testing.GpuTestDevice.ops;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sparserender.engine.tensor.DType;
import io.sparserender.testing.RequiresGpu;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The runtime on a real device: worker thread, arena, copies, refusals and named errors. */
@RequiresGpu
@SuppressWarnings("try") // arena scopes are opened for their close()
class RuntimeGpuTest {
    @Test
    void gpuWorkRunsOnTheWorkerThreadWhoeverSubmitsIt() throws Exception {
        CudaKernels ops = ops();
        assertThat(ops.device().call(() -> Thread.currentThread().getName())).startsWith("sparse-render-gpu-");
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try (DeviceArena.Scope scope = ops.device().arena().scope()) {
            List<Future<float[]>> results = new ArrayList<>();
            for (int t = 0; t < 12; t++) {
                int seed = t;
                DeviceBuffer a = ops.allocate(DType.F32, 1001);
                DeviceBuffer out = ops.allocate(DType.F32, 1001);
                results.add(pool.submit(() -> {
                    float[] x = new float[1001];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = seed * 1000 + i;
                    }
                    a.copyFrom(x);
                    ops.scale(a, 2f, out);
                    return out.toFloatArray();
                }));
            }
            for (int t = 0; t < 12; t++) {
                float[] got = results.get(t).get();
                for (int i = 0; i < got.length; i++) {
                    assertThat(got[i]).isEqualTo(2f * (t * 1000 + i));
                }
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void arenaReusesMemoryAcrossScopesAndReportsItsPeak() {
        DeviceArena arena = ops().device().arena();
        long before = arena.usedBytes();
        DeviceBuffer kept;
        try (DeviceArena.Scope s = arena.scope()) {
            kept = arena.allocate(DType.BF16, 1000, 1000);
            assertThat(arena.usedBytes()).isGreaterThanOrEqualTo(before + 2_000_000);
        }
        assertThat(arena.usedBytes()).isEqualTo(before);
        assertThat(arena.peakBytes()).isGreaterThanOrEqualTo(before + 2_000_000);
        assertThatThrownBy(kept::address).isInstanceOf(IllegalStateException.class).hasMessageContaining("after its arena scope closed");
        assertThat(ops().device().statistics()).containsKeys("gemm", "arena_peak_bytes");
    }

    @Test
    void compactionSlidesKeptBuffersDownWithoutASecondCopy() {
        DeviceArena arena = ops().device().arena();
        try (DeviceArena.Scope outer = arena.scope()) {
            DeviceBuffer outside = upload(arena, 1000, 0);
            DeviceArena.Scope s = arena.scope();
            // freed gaps below kept buffers: a moves by more than its size (one copy), b and c overlap their new
            // places (moved in pieces of the freed bytes below them)
            arena.allocate(DType.F32, 300_000);
            DeviceBuffer a = upload(arena, 250_000, 1);
            arena.allocate(DType.F32, 100_000);
            DeviceBuffer b = upload(arena, 2_000_000, 2);
            arena.allocate(DType.F32, 64);
            DeviceBuffer c = upload(arena, 3_000_001, 3);
            arena.allocate(DType.F32, 5_000);
            long topBefore = arena.usedBytes();
            arena.resetPeak();
            DeviceArena.Compacted done = arena.compact(s, java.util.Arrays.asList(c, outside, a, b, a, null));
            DeviceBuffer c2 = done.kept().get(0);
            DeviceBuffer a2 = done.kept().get(2);
            DeviceBuffer b2 = done.kept().get(3);
            assertThat(done.kept().get(1)).isSameAs(outside);
            assertThat(done.kept().get(4)).isSameAs(a2);
            assertThat(done.kept().get(5)).isNull();
            assertThat(a2.address()).isLessThan(b2.address());
            assertThat(b2.address()).isLessThan(c2.address());
            assertContents(a2, 1);
            assertContents(b2, 2);
            assertContents(c2, 3);
            assertContents(outside, 0);
            assertThat(arena.usedBytes()).isLessThan(topBefore);
            assertThat(arena.peakBytes()).as("no second copy of the kept bytes").isEqualTo(topBefore);

            // 256 freed bytes below 12 MB: tens of thousands of pieces, so one copy above everything instead
            DeviceArena.Scope s2 = arena.scope();
            arena.allocate(DType.F32, 64);
            DeviceBuffer d = upload(arena, 3_000_001, 4);
            long topBefore2 = arena.usedBytes();
            DeviceArena.Compacted done2 = arena.compact(s2, List.of(d));
            assertContents(done2.kept().get(0), 4);
            assertThat(arena.peakBytes()).isLessThanOrEqualTo(topBefore2 + 4L * 3_000_001 + DeviceArena.ALIGNMENT);
            done2.scope().close();
            done.scope().close();
        }
    }

    @Test
    void theArenaCountsTheBytesItCopiesToKeepResults() {
        // what benchmarks report as arena_moved_gib: device copies outside every timed operation
        DeviceArena arena = ops().device().arena();
        try (DeviceArena.Scope outer = arena.scope()) {
            DeviceBuffer outside = upload(arena, 1000, 0);
            long before = arena.movedBytes();
            DeviceArena.Scope s = arena.scope();
            arena.allocate(DType.F32, 300_000);
            DeviceBuffer kept = arena.closeKeeping(s, upload(arena, 250_000, 1));
            assertContents(kept, 1);
            assertThat(arena.movedBytes() - before).as("one result moved down").isEqualTo(4L * 250_000);

            DeviceArena.Scope s2 = arena.scope();
            arena.allocate(DType.F32, 10);
            assertThat(arena.closeKeeping(s2, outside)).isSameAs(outside);
            DeviceArena.Scope s3 = arena.scope();
            DeviceBuffer first = upload(arena, 1000, 2);
            arena.allocate(DType.F32, 10);
            assertContents(arena.closeKeeping(s3, first), 2);
            assertThat(arena.movedBytes() - before).as("results from outside or already at the scope's start: no copy")
                    .isEqualTo(4L * 250_000);

            DeviceArena.Scope s4 = arena.scope();
            arena.allocate(DType.F32, 1000);
            DeviceArena.Compacted c = arena.compact(s4, List.of(upload(arena, 5000, 3)));
            assertContents(c.kept().get(0), 3);
            assertThat(arena.movedBytes() - before).as("and a compaction's").isEqualTo(4L * 250_000 + 4L * 5000);
            c.scope().close();
        }
    }

    private static DeviceBuffer upload(DeviceArena arena, int n, int tag) {
        DeviceBuffer b = arena.allocate(DType.F32, n);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = tag * 1e7f + i;
        }
        b.copyFrom(v);
        return b;
    }

    private static void assertContents(DeviceBuffer b, int tag) {
        float[] got = b.toFloatArray();
        for (int i = 0; i < got.length; i++) {
            if (got[i] != tag * 1e7f + i) {
                throw new AssertionError("buffer " + tag + " element " + i + " = " + got[i] + " after compaction, expected "
                        + (tag * 1e7f + i));
            }
        }
    }

    @Test
    void parkedWeightsComeBackBitExactAfterTheirMemoryWasReused() {
        io.sparserender.engine.gpu.CudaOps g = io.sparserender.testing.GpuTestDevice.cudaOps();
        DeviceArena arena = g.device().arena();
        try (DeviceArena.Scope outer = arena.scope()) {
            float[] values = new float[123_457];
            for (int i = 0; i < values.length; i++) {
                values[i] = i * 0.5f - 7;
            }
            long before = arena.usedBytes();
            io.sparserender.engine.ops.Parkable<DeviceBuffer> w = g.parkable(() -> {
                DeviceBuffer b = arena.allocate(DType.F32, values.length);
                b.copyFrom(values);
                return b;
            });
            long resident = arena.usedBytes();
            w.prepareToPark(); // the host copy made at load: the weights stay where they are
            assertThat(w.isParked()).isFalse();
            assertThat(arena.usedBytes()).as("preparing frees nothing").isEqualTo(resident);
            assertThat(w.get().toFloatArray()).as("prepared weights, still in device memory").containsExactly(values);
            assertThat(w.park()).isTrue();
            assertThat(arena.usedBytes()).as("parking frees the device memory").isEqualTo(before);
            try (DeviceArena.Scope s = arena.scope()) {
                DeviceBuffer over = arena.allocate(DType.F32, values.length + 64); // lands where the weights were
                new CudaKernels(g.device()).fill(over, Float.floatToRawIntBits(-1f));
                assertThatThrownBy(w::get).as("unparking while its memory is in use is refused")
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("in use");
            }
            try (DeviceArena.Scope s = arena.scope()) {
                assertThatThrownBy(w::get).as("unparking inside a scope opened while parked is refused")
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("still open");
            }
            assertThat(w.get().toFloatArray()).as("unparked weights").containsExactly(values);
            assertThat(arena.usedBytes()).isEqualTo(resident);
            try (DeviceArena.Scope s = arena.scope()) {
                arena.allocate(DType.F32, 16);
                long used = arena.usedBytes();
                assertThat(w.park()).as("parking under memory in use does not happen").isFalse();
                assertThat(w.isParked()).isFalse();
                assertThat(arena.usedBytes()).isEqualTo(used);
            }
            assertThat(w.park()).isTrue();
            assertThat(w.park()).as("twice is once").isTrue();
            assertThat(w.get().toFloatArray()).containsExactly(values);
        }
    }

    @Test
    void moreThanTwoGibOfArenaBytesComeBackIntactFromPinnedHostMemory() {
        // JCuda wraps one pinned allocation in a ByteBuffer (int capacity): PinnedHostMemory holds 1 GiB chunks. Marked
        // buffers at the start, across the first chunk boundary and past 2 GiB must all come back.
        DeviceArena arena = ops().device().arena();
        try (DeviceArena.Scope s = arena.scope()) {
            long from = arena.usedBytes();
            java.util.Random rnd = new java.util.Random(5);
            DeviceBuffer first = marked(arena, rnd);
            arena.allocate(DType.I32, (int) ((PinnedHostMemory.CHUNK_BYTES - (arena.usedBytes() - from) - (512 << 10)) / 4));
            DeviceBuffer straddling = marked(arena, rnd); // 1 MiB across the 1 GiB chunk boundary
            arena.allocate(DType.I32, (int) ((2L << 30) + (300L << 20) - (arena.usedBytes() - from)) / 4);
            DeviceBuffer last = marked(arena, rnd); // past 2.3 GiB
            long bytes = arena.usedBytes() - from;
            assertThat(bytes).isGreaterThan(Integer.MAX_VALUE);
            float[][] want = {first.toFloatArray(), straddling.toFloatArray(), last.toFloatArray()};
            PinnedHostMemory host = arena.pinnedHost(bytes);
            assertThat(host).as("the test host can pin 2.3 GiB").isNotNull();
            try {
                arena.copyToHost(from, host);
                for (DeviceBuffer b : List.of(first, straddling, last)) {
                    new CudaKernels(ops().device()).fill(b, 0);
                }
                arena.copyFromHost(host, from);
                assertThat(first.toFloatArray()).containsExactly(want[0]);
                assertThat(straddling.toFloatArray()).containsExactly(want[1]);
                assertThat(last.toFloatArray()).containsExactly(want[2]);
            } finally {
                arena.freePinned(host);
            }
        }
    }

    private static DeviceBuffer marked(DeviceArena arena, java.util.Random rnd) {
        float[] v = new float[1 << 18];
        for (int i = 0; i < v.length; i++) {
            v[i] = rnd.nextFloat();
        }
        DeviceBuffer b = arena.allocate(DType.F32, v.length);
        b.copyFrom(v);
        return b;
    }

    @Test
    void outOfArenaMemorySaysHowMuchWasAskedAndFree() {
        DeviceArena arena = ops().device().arena();
        assertThatThrownBy(() -> arena.allocate(DType.F32, 1 << 30, 8))
                .isInstanceOf(GpuException.OutOfDeviceMemory.class)
                .hasMessageContaining("Out of device memory")
                .hasMessageContaining("asked 34,359,738,368 bytes")
                .hasMessageContaining("free");
    }

    @Test
    void copiesCheckTypeAndLength() {
        try (DeviceArena.Scope s = ops().device().arena().scope()) {
            DeviceBuffer b = ops().allocate(DType.F32, 3, 5);
            assertThatThrownBy(() -> b.copyFrom(new float[14])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("14 host elements").hasMessageContaining("holds 15");
            assertThatThrownBy(() -> b.copyFrom(new short[15])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("BF16 or F16");
            assertThatThrownBy(b::toIntArray).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("I32");
            DeviceBuffer i = ops().allocate(DType.I32, 4);
            i.copyFrom(new int[] {1, -2, 3, Integer.MIN_VALUE});
            assertThat(i.toIntArray()).containsExactly(1, -2, 3, Integer.MIN_VALUE);
        }
    }

    @Test
    void aFailedLaunchNamesTheCallAndTheKernel() {
        try (DeviceArena.Scope s = ops().device().arena().scope()) {
            DeviceBuffer b = ops().allocate(DType.F32, 16);
            assertThatThrownBy(() -> ops().device().launch("fill_u32", 1, 4096, 0, new KernelArgs().ptr(b).i32(0).i64(16)))
                    .isInstanceOf(GpuException.class)
                    .hasMessageContaining("cuLaunchKernel")
                    .hasMessageContaining("fill_u32")
                    .hasMessageContaining("CUDA_ERROR_INVALID_VALUE");
        }
        // the device still works afterwards
        try (DeviceArena.Scope s = ops().device().arena().scope()) {
            DeviceBuffer b = ops().upload(new float[] {1, 2}, 2);
            ops().scale(b, 3f, b);
            assertThat(b.toFloatArray()).containsExactly(3f, 6f);
        }
    }

    @Test
    void theSameDeviceIsSharedAndIndexOutOfRangeIsRefused() {
        assertThat(CudaDevice.open(CudaDevice.Options.defaults().withDevice("0"))).isSameAs(ops().device());
        int count = GpuEnvironment.probe().devices().size();
        assertThatThrownBy(() -> CudaDevice.open(CudaDevice.Options.defaults().withDevice(String.valueOf(count))))
                .isInstanceOf(GpuException.class).hasMessageContaining("out of range");
    }

    @Test
    void eventsTimeWorkOnTheStream() {
        try (DeviceArena.Scope s = ops().device().arena().scope(); CudaEvent start = ops().device().newEvent();
                CudaEvent stop = ops().device().newEvent()) {
            DeviceBuffer b = ops().allocate(DType.F32, 1 << 24);
            start.record();
            ops().fill(b, 0);
            stop.record();
            assertThat(stop.elapsedMsSince(start)).isGreaterThan(0f).isLessThan(1000f);
        }
    }
}
