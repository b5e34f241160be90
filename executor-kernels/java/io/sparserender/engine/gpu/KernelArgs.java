package io.sparserender.engine.gpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;

/**
 * The argument list of one kernel launch, in the kernel's parameter order. Device pointers travel as
 * their 64-bit addresses; a params struct travels as its bytes ({@link Struct}).
 */
public final class KernelArgs {
    private final List<Pointer> args = new ArrayList<>();

    public KernelArgs ptr(DeviceBuffer b) {
        args.add(Pointer.to(new long[] {b.address()}));
        return this;
    }

    public KernelArgs i32(int v) {
        args.add(Pointer.to(new int[] {v}));
        return this;
    }

    public KernelArgs i64(long v) {
        args.add(Pointer.to(new long[] {v}));
        return this;
    }

    public KernelArgs f32(float v) {
        args.add(Pointer.to(new float[] {v}));
        return this;
    }

    /** A parameter passed by value as raw bytes (a 128-byte TMA tensor map: make it the first parameter, 64-byte aligned). */
    public KernelArgs bytes(byte[] b) {
        args.add(Pointer.to(b.clone()));
        return this;
    }

    public KernelArgs struct(Struct s) {
        args.add(Pointer.to(s.bytes()));
        return this;
    }

    Pointer pointer() {
        return Pointer.to(args.toArray(new Pointer[0]));
    }

    /**
     * A C struct passed by value, laid out as the C compiler does on x86-64/CUDA: each field at the
     * next multiple of its own size, the whole padded to its largest field.
     */
    public static final class Struct {
        private final ByteBuffer buf = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
        private int maxAlign = 1;

        public Struct ptr(DeviceBuffer b) {
            return i64(b == null ? 0L : b.address());
        }

        public Struct i64(long v) {
            align(8);
            buf.putLong(v);
            return this;
        }

        public Struct i32(int v) {
            align(4);
            buf.putInt(v);
            return this;
        }

        public Struct f32(float v) {
            align(4);
            buf.putFloat(v);
            return this;
        }

        private void align(int a) {
            maxAlign = Math.max(maxAlign, a);
            while (buf.position() % a != 0) {
                buf.put((byte) 0);
            }
        }

        byte[] bytes() {
            int size = (buf.position() + maxAlign - 1) / maxAlign * maxAlign;
            byte[] out = new byte[size];
            System.arraycopy(buf.array(), 0, out, 0, buf.position());
            return out;
        }

        public int size() {
            return bytes().length;
        }
    }
}
