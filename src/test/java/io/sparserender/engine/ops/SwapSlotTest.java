package io.sparserender.engine.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SwapSlotTest {
    @Test
    void bringsInOnlyWhenAnotherValueHoldsTheMemory() {
        List<Integer> broughtIn = new ArrayList<>();
        SwapSlot<String> slot = new SwapSlot<>(List.of("high", "low"), 1, i -> {
            broughtIn.add(i);
            sleepOneMillisecond();
        });
        assertThat(slot.get(1)).isEqualTo("low");
        assertThat(broughtIn).isEmpty();
        assertThat(slot.get(0)).isEqualTo("high");
        assertThat(slot.get(0)).isEqualTo("high");
        assertThat(slot.get(1)).isEqualTo("low");
        assertThat(broughtIn).containsExactly(0, 1);
        assertThat(slot.swaps()).isEqualTo(2);
        assertThat(slot.swapSeconds()).as("two timed bring-ins of at least 1 ms").isGreaterThanOrEqualTo(0.002);
        assertThat(slot.residentIndex()).isEqualTo(1);
        assertThat(slot.shared()).isTrue();
    }

    private static void sleepOneMillisecond() {
        try {
            Thread.sleep(1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Test
    void cpuBackendLoadsEveryValueResident() {
        SwapSlot<String> slot = new CpuOps().swapSlot(List.of(() -> "a", () -> "b"));
        assertThat(slot.shared()).isFalse();
        assertThat(slot.get(1)).isEqualTo("b");
        assertThat(slot.get(0)).isEqualTo("a");
        assertThat(slot.swaps()).isZero();
        assertThat(slot.swapSeconds()).isZero();
    }

    @Test
    void refusesAnIndexOutsideTheValues() {
        SwapSlot<String> slot = SwapSlot.allResident(List.of("only"));
        assertThatThrownBy(() -> slot.get(1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> new SwapSlot<>(List.of("a"), 2, i -> {})).hasMessageContaining("resident index 2");
    }
}
