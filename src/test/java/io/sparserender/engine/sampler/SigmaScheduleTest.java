package io.sparserender.engine.sampler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SigmaScheduleTest {
    // Computed independently with numpy from wan/utils/fm_solvers_unipc.py's formula:
    // sigma_max = float(np.float32(0.999)); g = np.linspace(sigma_max, 0, N + 1)[:-1];
    // g = s * g / (1 + (s - 1) * g); (g * 1000).astype(np.int64)
    private static final long[] TI2V_5B_50_SHIFT5 = {999, 995, 991, 987, 982, 978, 973, 968, 963, 957, 952, 946,
        940, 934, 927, 920, 913, 906, 898, 890, 882, 873, 863, 854, 843, 833, 821, 809, 796, 783, 768, 753, 737, 720,
        701, 681, 660, 636, 611, 584, 555, 522, 487, 448, 405, 356, 302, 241, 172, 92};
    private static final long[] A14B_40_SHIFT12 = {999, 997, 995, 993, 990, 988, 985, 982, 979, 976, 972, 969, 965,
        961, 956, 952, 947, 941, 936, 929, 922, 915, 907, 898, 888, 877, 865, 852, 837, 819, 799, 776, 749, 717, 678,
        631, 571, 492, 386, 235};

    @Test
    void officialTi2vTimesteps() {
        SigmaSchedule s = SigmaSchedule.wanOfficial(50, 5.0);
        assertThat(s.timesteps()).containsExactly(TI2V_5B_50_SHIFT5);
        assertThat(s.sigmas()).hasSize(51);
        assertThat(s.sigma(50)).isZero();
        assertThat(s.sigma(0)).isEqualTo((double) (float) SigmaSchedule.shift((double) (float) 0.999, 5.0));
    }

    @Test
    void officialA14bTimestepsAndExpertSplit() {
        SigmaSchedule s = SigmaSchedule.wanOfficial(40, 12.0);
        assertThat(s.timesteps()).containsExactly(A14B_40_SHIFT12);
        assertThat(ExpertSchedule.a14b().split(s)).containsExactly(26, 14);
        assertThat(s.timestep(25)).isEqualTo(877);
        assertThat(s.timestep(26)).isEqualTo(865);
    }

    @Test
    void timestepIsTheFloorOfShiftedSigmaTimesThousand() {
        SigmaSchedule s = SigmaSchedule.wanOfficial(7, 3.0);
        for (int i = 0; i < 7; i++) {
            double unshifted = SigmaSchedule.WAN_SIGMA_MAX * (7 - i) / 7;
            double expected = Math.floor(SigmaSchedule.shift(unshifted, 3.0) * 1000);
            assertThat((double) s.timestep(i)).as("step %d", i).isCloseTo(expected, org.assertj.core.data.Offset.offset(1.0));
            assertThat(s.timestep(i)).isLessThanOrEqualTo((long) Math.ceil(SigmaSchedule.shift(unshifted, 3.0) * 1000));
        }
    }

    @Test
    void shiftFormula() {
        assertThat(SigmaSchedule.shift(0.5, 5.0)).isEqualTo(2.5 / 3.0);
        assertThat(SigmaSchedule.shift(0.5, 1.0)).isEqualTo(0.5);
        assertThat(SigmaSchedule.shift(0.0, 12.0)).isZero();
    }

    @Test
    void rejectsInvalidGrids() {
        assertThatThrownBy(() -> SigmaSchedule.wanOfficial(0, 5.0)).hasMessageContaining("steps: 0");
        assertThatThrownBy(() -> SigmaSchedule.wanOfficial(10, -1)).hasMessageContaining("shift: -1");
        assertThatThrownBy(() -> new SigmaSchedule(new double[] {0.9, 0.95, 0}, new long[] {900, 950}))
                .hasMessageContaining("sigma[1] = 0.95");
        assertThatThrownBy(() -> new SigmaSchedule(new double[] {0.9, 0.5}, new long[] {900}))
                .hasMessageContaining("last sigma is 0.5");
    }
}
