package io.sparserender.engine.gpu;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;

import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;

/** A CUDA event on the device's compute stream: for timing and for waiting on earlier work. */
public final class CudaEvent implements AutoCloseable {
    private final CudaDevice device;
    private final CUevent event = new CUevent();

    CudaEvent(CudaDevice device) {
        this.device = device;
        device.run(() -> CudaCheck.check(cuEventCreate(event, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate", "event"));
    }

    /** Records the event after all work submitted so far to the compute stream. */
    public CudaEvent record() {
        device.run(() -> CudaCheck.check(cuEventRecord(event, device.stream()), "cuEventRecord", "event"));
        return this;
    }

    public void synchronize() {
        device.run(() -> CudaCheck.check(cuEventSynchronize(event), "cuEventSynchronize", "event"));
    }

    /** Milliseconds from {@code start} to this event; waits for this event. */
    public float elapsedMsSince(CudaEvent start) {
        return device.call(() -> {
            CudaCheck.check(cuEventSynchronize(event), "cuEventSynchronize", "timing event");
            float[] ms = {0};
            CudaCheck.check(cuEventElapsedTime(ms, start.event, event), "cuEventElapsedTime", "timing event");
            return ms[0];
        });
    }

    @Override
    public void close() {
        device.run(() -> cuEventDestroy(event));
    }
}
