package io.sparserender.engine.text;

import io.sparserender.engine.tensor.HalfFloats;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.Checkpoint;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.engine.weights.TensorInfo;
import io.sparserender.engine.weights.WeightsException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The token embedding [V, D], read row by row from its (memory-mapped) safetensors file: umT5-XXL's
 * table has 256,384 × 4096 entries, more than one Java array holds in float32, and a prompt needs at most
 * 512 of its rows. Rows are decoded from F32, F16 or BF16 to float32. The whole table is checked for NaN and
 * infinite values once, when it is opened.
 */
final class TokenEmbeddingTable {
    private final SafetensorsFile file;
    private final TensorInfo info;
    private final int rows;
    private final int width;

    TokenEmbeddingTable(Checkpoint ckpt, String name) {
        this.file = ckpt.file(name);
        this.info = ckpt.info(name);
        int[] shape = info.shape();
        this.rows = shape[0];
        this.width = shape[1];
        file.requireFinite(name); // rows are read lazily at encode time: scan the whole table once at load
    }

    int width() {
        return width;
    }

    /** Rows {@code ids} as a host tensor [ids.length, D]. */
    Tensor rows(int[] ids) {
        int size = info.dtype().byteSize();
        ByteBuffer row = ByteBuffer.allocate(width * size).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[ids.length * width];
        for (int r = 0; r < ids.length; r++) {
            int id = ids[r];
            if (id < 0 || id >= rows) {
                throw new IllegalArgumentException("Cannot embed token id " + id + " at position " + r + ": tensor '"
                        + info.name() + "' in " + file.path() + " has " + rows + " rows");
            }
            row.clear();
            file.readRaw(info.name(), (long) id * width * size, row);
            row.flip();
            for (int c = 0; c < width; c++) {
                out[r * width + c] = switch (info.dtype()) {
                    case F32 -> row.getFloat(c * 4);
                    case F16 -> HalfFloats.f16ToFloat(row.getShort(c * 2));
                    case BF16 -> HalfFloats.bf16ToFloat(row.getShort(c * 2));
                    case F64 -> (float) row.getDouble(c * 8);
                    default -> throw new WeightsException("Cannot read embedding '" + info.name() + "' in "
                            + file.path() + ": dtype " + info.dtype());
                };
            }
        }
        return new Tensor(out, ids.length, width);
    }
}
