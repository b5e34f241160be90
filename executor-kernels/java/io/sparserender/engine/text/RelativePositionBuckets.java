package io.sparserender.engine.text;

/**
 * T5's bidirectional relative-position buckets (transformers' {@code _relative_position_bucket} with
 * {@code bidirectional=True}). For relative position p = key index − query index, with n = numBuckets / 2
 * and exact = n / 2: bucket = (p &gt; 0 ? n : 0) + (|p| &lt; exact ? |p|
 * : min(n − 1, exact + ⌊ln(|p| / exact) / ln(maxDistance / exact) · (n − exact)⌋)).
 * The logarithmic part is evaluated in float32 in the reference's order (float32 ln, division by the
 * float32 constant, product, truncation), so boundary positions round as it does.
 */
public final class RelativePositionBuckets {
    private RelativePositionBuckets() {}

    public static int bucket(int relativePosition, int numBuckets, int maxDistance) {
        int n = numBuckets / 2;
        int bucket = relativePosition > 0 ? n : 0;
        int p = Math.abs(relativePosition);
        int exact = n / 2;
        if (p < exact) {
            return bucket + p;
        }
        float logRatio = (float) Math.log((float) p / (float) exact);
        float scaled = logRatio / (float) Math.log((double) maxDistance / exact) * (float) (n - exact);
        int large = exact + (int) scaled;
        return bucket + Math.min(large, n - 1);
    }

    /** Buckets of every (query i, key j) pair of a length-L sequence, row-major [L, L]. */
    public static int[] matrix(int length, int numBuckets, int maxDistance) {
        int[] out = new int[length * length];
        for (int i = 0; i < length; i++) {
            for (int j = 0; j < length; j++) {
                out[i * length + j] = bucket(j - i, numBuckets, maxDistance);
            }
        }
        return out;
    }
}
