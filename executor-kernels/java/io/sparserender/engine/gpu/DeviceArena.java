package io.sparserender.engine.gpu;

import io.sparserender.engine.tensor.DType;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import jcuda.driver.CUdeviceptr;

/**
 * One device allocation made at start and reused for the life of the executor: buffers are carved
 * from it in stack order and given back when the scope that made them closes, so a clip's working
 * set costs no cuMemAlloc/cuMemFree. The high-water mark is kept for the statistics.
 *
 * <pre>
 *   try (DeviceArena.Scope s = arena.scope()) {
 *       DeviceBuffer x = arena.allocate(DType.BF16, rows, cols);
 *       ...
 *   }   // x is released here; using it afterwards throws
 * </pre>
 * Allocations outside any scope live until the arena is closed (weights, workspaces).
 */
public final class DeviceArena {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(DeviceArena.class);
    /** Every buffer starts on a 256-byte boundary (cuBLASLt, vector loads and cp.async want 16). */
    public static final int ALIGNMENT = 256;

    private final CudaDevice device;
    private final CUdeviceptr base;
    private final long baseAddress;
    private final long capacity;
    private long top;
    private long peak;
    private final Deque<Scope> scopes = new ArrayDeque<>();
    private final List<ParkedRange> ranges = new ArrayList<>();
    private final List<PinnedHostMemory> pinned = new ArrayList<>();
    private long layoutHash = 1;
    private long scopeSerial;
    private long movedBytes;

    DeviceArena(CudaDevice device, CUdeviceptr base, long baseAddress, long capacity) {
        this.device = device;
        this.base = base;
        this.baseAddress = baseAddress;
        this.capacity = capacity;
    }

    /** Carves a buffer; throws {@link GpuException.OutOfDeviceMemory} when the arena is too small. */
    public synchronized DeviceBuffer allocate(DType dtype, int... shape) {
        if (dtype != DType.BF16 && dtype != DType.F16 && dtype != DType.F32 && dtype != DType.I32 && dtype != DType.U8
                && dtype != DType.I8) {
            throw new IllegalArgumentException("Device buffers hold BF16, F16, F32, I32, U8 (FP8 codes) or I8 (INT8 codes), not " + dtype);
        }
        long bytes = DeviceBuffer.numelOf(shape) * dtype.byteSize();
        long offset = align(top);
        if (offset + bytes > capacity) {
            throw new GpuException.OutOfDeviceMemory("the arena of device " + device.info().index() + " ("
                    + GpuException.mib(capacity) + ") for a " + dtype + java.util.Arrays.toString(shape) + " buffer",
                    bytes, Math.max(0, capacity - offset));
        }
        top = offset + bytes;
        peak = Math.max(peak, top);
        layoutHash = (layoutHash * 31 + offset) * 31 + bytes;
        DeviceBuffer b = new DeviceBuffer(device, dtype, shape, baseAddress + offset, base.withByteOffset(offset));
        Scope s = scopes.peek();
        if (s != null) {
            s.buffers.add(b);
        }
        return b;
    }

    /** Opens a scope: every buffer allocated until it closes is released when it closes. */
    public synchronized Scope scope() {
        Scope s = new Scope(top, scopeSerial++);
        scopes.push(s);
        return s;
    }

    public synchronized long usedBytes() {
        return top;
    }

    public synchronized long peakBytes() {
        return peak;
    }

    /**
     * Bytes copied on the device so far to keep a result across a scope's close ({@link #closeKeeping},
     * {@link #compact}): device time that no operation's timing includes (benchmarks report it per forward).
     */
    public synchronized long movedBytes() {
        return movedBytes;
    }

    /** Starts a new peak measurement at the bytes in use now. */
    public synchronized void resetPeak() {
        peak = top;
    }

    /**
     * The arena's bytes from {@code from} to the top now (what was allocated since {@code usedBytes()} returned
     * {@code from}: model weights), as a range that can wait in pinned host memory ({@link #park}).
     */
    public synchronized ParkedRange rangeFrom(long from) {
        if (from < 0 || from > top) {
            throw new IllegalArgumentException("Arena range start " + from + " is outside [0, " + top + "]");
        }
        ParkedRange r = new ParkedRange(from, top);
        ranges.add(r);
        return r;
    }

    /**
     * Frees the range's device bytes and returns true, or returns false and does nothing when it cannot: something
     * above it is in use (it must be the top of the arena), an open scope started inside it, or the host cannot pin
     * that much memory (then it is not asked again). The first park copies the bytes to pinned host memory, later parks only
     * free (the range holds weights, which do not change). Its buffers must not be used until {@link #unpark}.
     */
    public boolean park(ParkedRange r) {
        synchronized (this) {
            if (r.parked) {
                return true;
            }
            if (top != r.to) {
                return false; // memory above the range is in use
            }
            Scope s = scopes.peek();
            if (s != null && s.mark > r.from) {
                return false; // a scope that started inside the range is open: closing it later would not know
            }
            if (!saveToHost(r)) {
                return false;
            }
            top = r.from;
            r.parked = true;
            r.scopesAtPark = scopeSerial;
            return true;
        }
    }

    /**
     * Makes the range's pinned host copy now, if it has none, without freeing its device bytes: the copy its first
     * {@link #park} would make (pinning the host memory is most of that cost: ≈ 4 s for umT5-XXL's 9.3 GiB), taken when
     * the weights are loaded instead of inside the first clip. False when the host cannot pin that much memory (then it
     * is not asked again, and the range stays in device memory).
     */
    public synchronized boolean saveToHost(ParkedRange r) {
        if (r.host != null) {
            return true;
        }
        if (r.noHostMemory) {
            return false;
        }
        long bytes = r.to - r.from;
        int[] refusal = {0};
        PinnedHostMemory host = PinnedHostMemory.allocate(device, bytes, refusal);
        if (host == null) {
            // the host cannot pin that much: the weights stay on the device (asked once, not every clip)
            r.noHostMemory = true;
            LOG.warn("Cannot park {} of model weights in pinned host memory ({}): they stay in device memory",
                    GpuException.mib(bytes), CudaCheck.message(refusal[0], "cuMemAllocHost", "parking"));
            return false;
        }
        host.copyFrom(base.withByteOffset(r.from), "parking arena bytes");
        r.host = host;
        return true;
    }

    /** Puts a parked range back at its addresses: the arena's top must be where the range starts. */
    public void unpark(ParkedRange r) {
        synchronized (this) {
            if (!r.parked) {
                return;
            }
            if (top > r.from) {
                throw new IllegalStateException("Cannot unpark arena bytes [" + r.from + ", " + r.to + "): memory over them is in use (top "
                        + top + ")");
            }
            Scope s = scopes.peek();
            if (s != null && s.serial >= r.scopesAtPark) {
                throw new IllegalStateException("Cannot unpark arena bytes [" + r.from + ", " + r.to + "): a scope opened at " + s.mark
                        + " while they were parked is still open (closing it would free them again)");
            }
            if (r.to > capacity) {
                throw new IllegalStateException("Cannot unpark arena bytes [" + r.from + ", " + r.to + "): past the arena's end");
            }
            r.host.copyTo(base.withByteOffset(r.from), "unparking arena bytes");
            top = r.to;
            peak = Math.max(peak, top);
            r.parked = false;
        }
    }

    /** Starts a new {@link #layoutHash}. */
    public synchronized void resetLayoutHash() {
        layoutHash = 1;
    }

    /**
     * A hash of the offsets and sizes of every allocation since {@link #resetLayoutHash}: two loads with the same
     * hash from the same start put the same buffers at the same addresses.
     */
    public synchronized long layoutHash() {
        return layoutHash;
    }

    /** Pinned host memory of this many bytes, freed when the device stops; null (with a warning) when the host cannot pin it. */
    public PinnedHostMemory pinnedHost(long bytes) {
        int[] refusal = {0};
        PinnedHostMemory host = PinnedHostMemory.allocate(device, bytes, refusal);
        if (host == null) {
            LOG.warn("Cannot pin {} of host memory: {}", GpuException.mib(bytes), CudaCheck.message(refusal[0], "cuMemAllocHost", "pinning"));
            return null;
        }
        synchronized (this) {
            pinned.add(host);
        }
        return host;
    }

    /** Frees pinned host memory from {@link #pinnedHost} now. */
    public void freePinned(PinnedHostMemory host) {
        synchronized (this) {
            if (!pinned.remove(host)) {
                throw new IllegalArgumentException("Not pinned host memory of this arena: " + host);
            }
        }
        device.run(host::free);
    }

    /** Copies arena bytes [from, from + host.bytes()) to host memory (after the work queued before it). */
    public void copyToHost(long from, PinnedHostMemory host) {
        checkInUse(from, host.bytes());
        host.copyFrom(base.withByteOffset(from), "saving arena bytes");
    }

    /** Copies host bytes over arena bytes [from, from + host.bytes()), which must be in use (work queued before it sees the old bytes). */
    public void copyFromHost(PinnedHostMemory host, long from) {
        checkInUse(from, host.bytes());
        host.copyTo(base.withByteOffset(from), "restoring arena bytes");
    }

    private synchronized void checkInUse(long from, long bytes) {
        if (from < 0 || bytes < 0 || from + bytes > top) {
            throw new IllegalArgumentException("Arena bytes [" + from + ", " + (from + bytes) + ") are not in use (top " + top + ")");
        }
    }

    /**
     * Frees everything from {@code from} up, without a scope (weights whose bytes were saved on the host and will be
     * copied back to the same addresses): no open scope may have started above it.
     */
    public synchronized void dropTo(long from) {
        if (from < 0 || from > top) {
            throw new IllegalArgumentException("Arena offset " + from + " is outside [0, " + top + "]");
        }
        Scope s = scopes.peek();
        if (s != null && s.mark > from) {
            throw new IllegalStateException("Cannot drop arena bytes from " + from + ": a scope opened at " + s.mark + " is still open");
        }
        top = from;
    }

    /** Frees the pinned host copies of parked ranges and other pinned memory (the device is stopping). */
    synchronized void freeHostCopies() {
        for (PinnedHostMemory p : pinned) {
            p.free();
        }
        pinned.clear();
        for (ParkedRange r : ranges) {
            if (r.host != null) {
                r.host.free();
                r.host = null;
            }
        }
        ranges.clear();
    }

    /** Bytes [from, to) of the arena that can wait in pinned host memory. */
    public static final class ParkedRange {
        private final long from;
        private final long to;
        private PinnedHostMemory host;
        private boolean parked;
        private boolean noHostMemory;
        private long scopesAtPark; // scopes with a serial number from here on were opened while parked

        private ParkedRange(long from, long to) {
            this.from = from;
            this.to = to;
        }

        public long bytes() {
            return to - from;
        }
    }

    /**
     * Whether b is the last buffer made and lies in the innermost open scope: what is allocated next lands
     * right after it and lives and dies with it.
     */
    public synchronized boolean isLastMade(DeviceBuffer b) {
        long offset = b.address() - baseAddress;
        Scope s = scopes.peek();
        return offset + b.byteSize() == top && (s == null || s.mark <= offset);
    }

    /** Whether b's storage starts at or above where scope s began (so closing s frees it). */
    public synchronized boolean inside(Scope s, DeviceBuffer b) {
        return b.address() >= baseAddress + s.mark;
    }

    /**
     * Closes {@code s} but keeps {@code r}: a buffer made inside the scope is moved to the scope's start
     * (the lowest place it can live once everything else the scope made is freed) and returned as a new
     * buffer; a buffer from outside the scope is returned as is. The move is ordered on the compute stream
     * (no wait); when r overlaps its new place it moves in pieces ({@link #moveDown}).
     */
    public DeviceBuffer closeKeeping(Scope s, DeviceBuffer r) {
        synchronized (this) {
            if (scopes.peek() != s) {
                throw new IllegalStateException("Arena scopes must close in reverse order of opening");
            }
            if (!inside(s, r)) {
                s.close();
                return r;
            }
            long landing = align(s.mark);
            long from = r.address() - baseAddress;
            long bytes = r.byteSize();
            DType dtype = r.dtype();
            int[] shape = r.shape();
            if (from == landing) {
                s.close();
                return allocate(dtype, shape);
            }
            long oldTop = top;
            s.close();
            DeviceBuffer kept = allocate(dtype, shape);
            moveDown(kept.address() - baseAddress, from, bytes, oldTop);
            return kept;
        }
    }

    /** The outcome of {@link #compact}: the scope that now holds the kept buffers, and the buffers. */
    public record Compacted(Scope scope, List<DeviceBuffer> kept) {}

    /**
     * Frees everything scope {@code s} made except {@code keep}, which are slid down, in address order, to the
     * scope's start inside a new scope, returned with them (buffers from outside s pass through; a buffer named
     * twice comes back as one). Each kept buffer moves down by at most the bytes freed below it, so the arena
     * never holds more than it did before the call: no second copy of the kept bytes (the VAE's conv cache and
     * the DiT's residual stream are gigabytes at 720p). Kept buffers that share storage (views) are copied above
     * everything first, as a whole move cannot be told apart from an overwrite for them.
     */
    public Compacted compact(Scope s, List<DeviceBuffer> keep) {
        synchronized (this) {
            if (scopes.peek() != s) {
                throw new IllegalStateException("Arena scopes must close in reverse order of opening");
            }
            List<DeviceBuffer> inside = new ArrayList<>();
            for (DeviceBuffer k : keep) {
                if (k != null && inside(s, k) && inside.stream().noneMatch(o -> o == k)) {
                    inside.add(k);
                }
            }
            inside.sort(java.util.Comparator.comparingLong(DeviceBuffer::address));
            for (int i = 1; i < inside.size(); i++) {
                DeviceBuffer a = inside.get(i - 1);
                if (inside.get(i).address() < a.address() + a.byteSize()) {
                    return compactByCopy(s, keep);
                }
            }
            long[] from = new long[inside.size()];
            for (int i = 0; i < from.length; i++) {
                from[i] = inside.get(i).address() - baseAddress;
            }
            long oldTop = top;
            s.close();
            Scope n = scope();
            java.util.IdentityHashMap<DeviceBuffer, DeviceBuffer> moved = new java.util.IdentityHashMap<>();
            for (int i = 0; i < from.length; i++) {
                DeviceBuffer k = inside.get(i);
                DeviceBuffer kept = allocate(k.dtype(), k.shape());
                moveDown(kept.address() - baseAddress, from[i], kept.byteSize(), oldTop);
                moved.put(k, kept);
            }
            List<DeviceBuffer> out = new ArrayList<>(keep.size());
            for (DeviceBuffer k : keep) {
                out.add(k != null && moved.containsKey(k) ? moved.get(k) : k);
            }
            return new Compacted(n, out);
        }
    }

    /**
     * Moves {@code bytes} from offset {@code src} down to {@code dst} ≤ src, ordered on the stream. Overlapping
     * moves go in pieces of (src − dst) bytes from the bottom up (each piece lands on source bytes already
     * moved); when that would be more than {@link #MAX_MOVE_PIECES} copies, through a copy above
     * {@code sourcesEnd} (where no source still to be moved lies), if the arena has room.
     */
    private void moveDown(long dst, long src, long bytes, long sourcesEnd) {
        if (dst > src) {
            throw new IllegalStateException("Arena compaction would move a buffer up: " + src + " -> " + dst);
        }
        long d = src - dst;
        if (d == 0) {
            return;
        }
        if (d >= bytes) {
            movedBytes += bytes;
            device.copyWithinArena(base.withByteOffset(dst), base.withByteOffset(src), bytes);
            return;
        }
        long pieces = (bytes + d - 1) / d;
        long tmp = align(Math.max(sourcesEnd, top));
        if (pieces > MAX_MOVE_PIECES && tmp + bytes <= capacity) {
            peak = Math.max(peak, tmp + bytes);
            movedBytes += 2 * bytes;
            device.copyWithinArena(base.withByteOffset(tmp), base.withByteOffset(src), bytes);
            device.copyWithinArena(base.withByteOffset(dst), base.withByteOffset(tmp), bytes);
            return;
        }
        movedBytes += bytes;
        for (long off = 0; off < bytes; off += d) {
            device.copyWithinArena(base.withByteOffset(dst + off), base.withByteOffset(src + off), Math.min(d, bytes - off));
        }
    }

    /** Overlapping moves in more pieces than this go through a copy above everything (when there is room). */
    static final long MAX_MOVE_PIECES = 64;

    /** The compaction for kept buffers that share storage: each copied above everything, then back down. */
    private Compacted compactByCopy(Scope s, List<DeviceBuffer> keep) {
        List<DeviceBuffer> out = new ArrayList<>(keep);
        List<Integer> moved = new ArrayList<>();
        List<Long> parked = new ArrayList<>();
        for (int i = 0; i < keep.size(); i++) {
            DeviceBuffer k = keep.get(i);
            if (k != null && inside(s, k)) {
                DeviceBuffer tmp = allocate(k.dtype(), k.shape());
                tmp.copyFromDevice(k);
                movedBytes += k.byteSize();
                moved.add(i);
                parked.add(tmp.address() - baseAddress);
            }
        }
        s.close();
        Scope n = scope();
        for (int j = 0; j < moved.size(); j++) {
            DeviceBuffer k = keep.get(moved.get(j));
            DeviceBuffer kept = allocate(k.dtype(), k.shape());
            movedBytes += kept.byteSize();
            device.copyWithinArena(kept, base.withByteOffset(parked.get(j)), kept.byteSize());
            out.set(moved.get(j), kept);
        }
        return new Compacted(n, out);
    }

    public long capacityBytes() {
        return capacity;
    }

    CUdeviceptr base() {
        return base;
    }

    private static long align(long v) {
        return (v + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /** A stack frame of the arena. Scopes close in reverse order of opening. */
    public final class Scope implements AutoCloseable {
        private final long mark;
        private final long serial;
        private final List<DeviceBuffer> buffers = new ArrayList<>();
        private boolean closed;

        private Scope(long mark, long serial) {
            this.mark = mark;
            this.serial = serial;
        }

        @Override
        public void close() {
            synchronized (DeviceArena.this) {
                if (closed) {
                    return;
                }
                if (scopes.peek() != this) {
                    throw new IllegalStateException("Arena scopes must close in reverse order of opening");
                }
                scopes.pop();
                closed = true;
                top = mark;
                for (DeviceBuffer b : buffers) {
                    b.release();
                }
            }
        }
    }
}
