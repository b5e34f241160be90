package io.sparserender.engine.ops;

/** The CpuOps instance behind {@link Ops}' host-side default methods. */
final class HostFallback {
    static final CpuOps CPU = new CpuOps();

    private HostFallback() {}
}
