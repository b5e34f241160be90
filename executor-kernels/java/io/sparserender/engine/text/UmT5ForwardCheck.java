package io.sparserender.engine.text;

import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;
import io.sparserender.engine.weights.SafetensorsFile;
import io.sparserender.engine.weights.WeightsException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * One umT5 forward pass on inputs from a safetensors case file, for the {@code forward-check} command:
 * {@code input_ids} [B, L] (integer), optional {@code attention_mask} [B, L] (all ones when absent) and
 * optional {@code expected} [B, L, d_model] to compare against (relative L2 and max |difference| over all
 * positions, padded ones included, as transformers' {@code last_hidden_state} holds them).
 */
public final class UmT5ForwardCheck {
    /** The output and, when the case has {@code expected}, its errors (NaN otherwise). */
    public record Result(Tensor output, double relativeL2, double maxAbsError) {}

    private UmT5ForwardCheck() {}

    public static <T> Result run(Path textEncoderDir, Path caseFile, Ops<T> ops) {
        TokenBatch tokens;
        float[] expected = null;
        try (SafetensorsFile f = SafetensorsFile.open(caseFile)) {
            int[] shape = f.info("input_ids").shape();
            if (shape.length != 2) {
                throw new WeightsException("Invalid case " + caseFile + ": input_ids is " + Arrays.toString(shape)
                        + ", expected [B, L]");
            }
            int[] ids = toInts(f.readLongs("input_ids"), caseFile, "input_ids");
            int[] mask;
            if (f.contains("attention_mask")) {
                if (!Arrays.equals(f.info("attention_mask").shape(), shape)) {
                    throw new WeightsException("Invalid case " + caseFile + ": attention_mask is "
                            + Arrays.toString(f.info("attention_mask").shape()) + ", input_ids " + Arrays.toString(shape));
                }
                mask = toInts(f.readLongs("attention_mask"), caseFile, "attention_mask");
            } else {
                mask = new int[ids.length];
                Arrays.fill(mask, 1);
            }
            tokens = new TokenBatch(shape[0], shape[1], ids, mask);
            if (f.contains("expected")) {
                expected = f.readFloats("expected");
            }
        }
        try (UmT5Encoder<T> encoder = UmT5Encoder.open(textEncoderDir, ops)) {
            T out = encoder.forward(tokens);
            Tensor host = ops.toHost(out);
            ops.release(out);
            if (expected == null) {
                return new Result(host, Double.NaN, Double.NaN);
            }
            if (expected.length != host.numel()) {
                throw new WeightsException("Invalid case " + caseFile + ": expected has " + expected.length
                        + " values, the output " + host);
            }
            double num = 0;
            double den = 0;
            double max = 0;
            for (int i = 0; i < expected.length; i++) {
                double d = host.data()[i] - expected[i];
                num += d * d;
                den += (double) expected[i] * expected[i];
                max = Math.max(max, Math.abs(d));
            }
            return new Result(host, Math.sqrt(num / den), max);
        }
    }

    private static int[] toInts(long[] v, Path file, String name) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            if (v[i] < Integer.MIN_VALUE || v[i] > Integer.MAX_VALUE) {
                throw new WeightsException("Invalid case " + file + ": " + name + "[" + i + "] = " + v[i]);
            }
            out[i] = (int) v[i];
        }
        return out;
    }
}
