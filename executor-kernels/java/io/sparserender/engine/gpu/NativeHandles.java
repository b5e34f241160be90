package io.sparserender.engine.gpu;

import java.lang.reflect.Method;
import jcuda.NativePointerObject;

/**
 * The raw handle inside a JCuda object (a CUstream for cuBLASLt). JCuda keeps it behind a protected
 * getter; JCuda lives on the class path (unnamed module), so reflection reaches it without JVM flags.
 */
final class NativeHandles {
    private static final Method GET;

    static {
        Method m = null;
        try {
            m = NativePointerObject.class.getDeclaredMethod("getNativePointer");
            m.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            m = null;
        }
        GET = m;
    }

    private NativeHandles() {}

    static long of(NativePointerObject o) {
        if (GET == null) {
            throw new GpuException("Cannot read JCuda's native handle (NativePointerObject.getNativePointer not accessible)");
        }
        try {
            return (long) GET.invoke(o);
        } catch (ReflectiveOperationException e) {
            throw new GpuException("Cannot read JCuda's native handle: " + e, e);
        }
    }
}
