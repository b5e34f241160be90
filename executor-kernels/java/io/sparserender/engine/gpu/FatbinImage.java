package io.sparserender.engine.gpu;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The CUDA kernels packed into the jar at build time ({@code kernels.fatbin} beside this class), and
 * the architectures its entries cover, read from the fatbin container itself.
 *
 * <p>Container layout (little-endian): header {u32 magic 0xBA55ED50, u16 version, u16 header size,
 * u64 size of the entries}; then entries, each {u16 kind (1 PTX, 2 ELF/SASS), u16 version, u32 entry
 * header size, u64 payload size, ..., u32 sm version at +28, ..., u32 flags at +40 (0x100000 marks an
 * arch-specific "a" target such as sm_90a)} followed by its payload.
 */
public final class FatbinImage {
    public static final String RESOURCE = "kernels.fatbin";
    private static final int MAGIC = 0xBA55ED50;
    private static final int FLAG_ARCH_SPECIFIC = 0x100000;

    /** One entry: SASS for one architecture, or PTX for a virtual one. */
    public record Target(boolean ptx, int sm, boolean archSpecific) {
        @Override
        public String toString() {
            return (ptx ? "compute_" : "sm_") + sm + (archSpecific ? "a" : "");
        }
    }

    private final byte[] bytes;
    private final List<Target> targets;

    private FatbinImage(byte[] bytes, List<Target> targets) {
        this.bytes = bytes;
        this.targets = List.copyOf(targets);
    }

    /** The packed image, or empty when the build had no nvcc. */
    public static Optional<FatbinImage> packed() {
        try (InputStream in = FatbinImage.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                return Optional.empty();
            }
            return Optional.of(parse(in.readAllBytes()));
        } catch (IOException e) {
            throw new IllegalStateException("Cannot read packed " + RESOURCE + ": " + e.getMessage(), e);
        }
    }

    public static FatbinImage parse(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 16 || b.getInt(0) != MAGIC) {
            throw new IllegalArgumentException("Invalid fatbin: no 0xBA55ED50 magic at the start");
        }
        int headerSize = Short.toUnsignedInt(b.getShort(6));
        long entriesSize = b.getLong(8);
        if (headerSize + entriesSize > bytes.length) {
            throw new IllegalArgumentException("Invalid fatbin: declares " + (headerSize + entriesSize)
                    + " bytes, has " + bytes.length);
        }
        List<Target> targets = new ArrayList<>();
        long off = headerSize;
        while (off + 48 <= headerSize + entriesSize) {
            int at = (int) off;
            int kind = Short.toUnsignedInt(b.getShort(at));
            long entryHeader = Integer.toUnsignedLong(b.getInt(at + 4));
            long payload = b.getLong(at + 8);
            int sm = b.getInt(at + 28);
            int flags = b.getInt(at + 40);
            if (kind == 1 || kind == 2) {
                targets.add(new Target(kind == 1, sm, (flags & FLAG_ARCH_SPECIFIC) != 0));
            }
            if (entryHeader <= 0 || payload < 0) {
                throw new IllegalArgumentException("Invalid fatbin: entry at byte " + off + " has no size");
            }
            off += entryHeader + payload;
        }
        return new FatbinImage(bytes, targets);
    }

    public byte[] bytes() {
        return bytes.clone();
    }

    public List<Target> targets() {
        return targets;
    }

    /**
     * Whether a device of compute capability major.minor can run this image: SASS built for the same
     * major and a minor not above the device's (an "a" target only on its exact architecture), or PTX
     * for a virtual architecture not above the device's.
     */
    public boolean supports(int major, int minor) {
        int device = major * 10 + minor;
        for (Target t : targets) {
            if (t.ptx() && t.sm() <= device) {
                return true;
            }
            if (!t.ptx() && t.archSpecific() && t.sm() == device) {
                return true;
            }
            if (!t.ptx() && !t.archSpecific() && t.sm() / 10 == major && t.sm() <= device) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return targets.toString();
    }
}
