package io.sparserender.engine.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The CUDA backend's refusals that need no GPU: selection, architecture coverage, no driver. */
class RefusalsTest {
    private static final List<GpuEnvironment.Device> TWO = List.of(
            new GpuEnvironment.Device(0, "NVIDIA H100 80GB HBM3", 9, 0, 80L << 30),
            new GpuEnvironment.Device(1, "NVIDIA H100 80GB HBM3", 9, 0, 80L << 30));

    @Test
    void parsesSparkAddressesAndVisibleDeviceLists() {
        assertThat(DeviceSelector.parse(null)).isZero();
        assertThat(DeviceSelector.parse("1")).isEqualTo(1);
        assertThat(DeviceSelector.parse(" 2,3")).isEqualTo(2);
        assertThat(DeviceSelector.parse("gpu:1")).isEqualTo(1);
        assertThatThrownBy(() -> DeviceSelector.parse("GPU-12ab")).isInstanceOf(GpuException.class)
                .hasMessageContaining("Invalid CUDA device 'GPU-12ab'");
        assertThatThrownBy(() -> DeviceSelector.parse("-1")).isInstanceOf(GpuException.class);
    }

    @Test
    void refusesAnIndexOutOfRangeNamingTheVisibleDevices() {
        assertThat(DeviceSelector.select(1, Optional.empty(), TWO).index()).isEqualTo(1);
        assertThatThrownBy(() -> DeviceSelector.select(2, Optional.empty(), TWO))
                .isInstanceOf(GpuException.class)
                .hasMessageStartingWith("CUDA device index 2 is out of range: 2 devices visible")
                .hasMessageContaining("0 = NVIDIA H100 80GB HBM3, 1 = NVIDIA H100 80GB HBM3");
    }

    @Test
    void refusesWithoutDriverOrDevice() {
        assertThatThrownBy(() -> DeviceSelector.select(0, Optional.of("NVIDIA driver not found (libcuda.so.1 cannot be loaded)"), List.of()))
                .hasMessage("No CUDA device: NVIDIA driver not found (libcuda.so.1 cannot be loaded). "
                        + "Run on a host with the NVIDIA driver, or use the CPU backend.");
        assertThatThrownBy(() -> DeviceSelector.select(0, Optional.empty(), List.of()))
                .hasMessageStartingWith("No CUDA device: the NVIDIA driver sees no device");
    }

    @Test
    void refusesADeviceTheFatbinDoesNotCoverNamingWhatIsPacked() {
        FatbinImage image = FatbinImage.parse(fatbin(new int[][] {{2, 80, 0}, {2, 90, 0x100000}, {1, 90, 0}}));
        assertThat(image.targets()).hasToString("[sm_80, sm_90a, compute_90]");
        GpuEnvironment.Device turing = new GpuEnvironment.Device(0, "Tesla T4", 7, 5, 16L << 30);
        assertThatThrownBy(() -> CudaDevice.requireKernelsCover(turing, Optional.of(image)))
                .isInstanceOf(GpuException.class)
                .hasMessage("The packed CUDA kernels do not cover device 0 (Tesla T4, compute capability 7.5): "
                        + "packed sm_80 sm_90a compute_90");
        assertThat(CudaDevice.requireKernelsCover(TWO.get(0), Optional.of(image))).isSameAs(image);
        GpuEnvironment.Device ampere = new GpuEnvironment.Device(0, "A10", 8, 6, 24L << 30);
        assertThat(CudaDevice.requireKernelsCover(ampere, Optional.of(image))).isSameAs(image);
        assertThatThrownBy(() -> CudaDevice.requireKernelsCover(ampere, Optional.empty()))
                .hasMessageStartingWith("No CUDA kernels in this build");
    }

    @Test
    void thePackedFatbinCoversEveryTargetArchitecture() {
        Optional<FatbinImage> packed = FatbinImage.packed();
        assumeTrue(packed.isPresent(), "no fatbin packed (nvcc absent at build time)");
        FatbinImage f = packed.get();
        assertThat(f.targets().stream().map(Object::toString))
                .contains("sm_80", "sm_86", "sm_89", "sm_90a", "compute_90");
        assertThat(f.supports(9, 0)).isTrue();
        assertThat(f.supports(8, 0)).isTrue();
        assertThat(f.supports(7, 5)).isFalse();
    }

    @Test
    void withoutADriverOpeningTheDeviceSaysSo() {
        GpuEnvironment env = GpuEnvironment.probe();
        assumeFalse(env.driverAvailable(), "this machine has an NVIDIA driver");
        assertThat(env.driverProblem()).contains("NVIDIA driver not found (libcuda.so.1 cannot be loaded)");
        assertThatThrownBy(CudaDevice::open).isInstanceOf(GpuException.class)
                .hasMessageStartingWith("No CUDA device: NVIDIA driver not found");
    }

    @Test
    void outOfDeviceMemorySaysHowMuchWasAskedAndFree() {
        GpuException.OutOfDeviceMemory e = new GpuException.OutOfDeviceMemory("the arena of device 0 (NVIDIA H100)", 100L << 30, 3L << 29);
        assertThat(e).hasMessage("Out of device memory: the arena of device 0 (NVIDIA H100) asked 107,374,182,400 bytes "
                + "(102400.0 MiB), 1,610,612,736 bytes (1536.0 MiB) free");
        assertThat(e.askedBytes()).isEqualTo(100L << 30);
        assertThat(e.freeBytes()).isEqualTo(3L << 29);
    }

    @Test
    void cublasLtProbeNeverThrowsAndExplainsItself() {
        CublasLtShim.Status s = CublasLtShim.probe();
        if (s.usable()) {
            assertThat(s.library()).contains("libcublasLt.so.");
            assertThat(s.version()).isGreaterThan(110000);
        } else {
            assertThat(s.problem()).isNotBlank();
        }
    }

    @Test
    void paramsStructsAreLaidOutAsInC() {
        // LayerNormParams: 4 pointers, long long rows, int cols, float eps = 48 bytes
        assertThat(new KernelArgs.Struct().i64(1).i64(2).i64(3).i64(4).i64(5).i32(6).f32(7f).size()).isEqualTo(48);
        // GemmParams: 3 pointers, 3 ints, float = 40 bytes; RmsNormParams: 3 pointers, long long, int, float = 40
        assertThat(new KernelArgs.Struct().i64(1).i64(2).i64(3).i32(4).i32(5).i32(6).f32(7f).size()).isEqualTo(40);
        assertThat(new KernelArgs.Struct().i32(1).i64(2).size()).isEqualTo(16);
        assertThat(new KernelArgs.Struct().i64(1).i32(2).size()).isEqualTo(16);
    }

    /** A fatbin container with empty entries {kind, sm, flags}. */
    static byte[] fatbin(int[][] entries) {
        ByteBuffer b = ByteBuffer.allocate(16 + 64 * entries.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0xBA55ED50).putShort((short) 1).putShort((short) 16).putLong(64L * entries.length);
        for (int[] e : entries) {
            int at = b.position();
            b.putShort((short) e[0]).putShort((short) 0x101).putInt(64).putLong(0);
            b.putInt(at + 28, e[1]);
            b.putInt(at + 40, e[2]);
            b.position(at + 64);
        }
        return b.array();
    }
}
