package io.sparserender.engine.gpu;

import java.util.Arrays;
import java.util.Locale;

/**
 * The operand precision of the model's large linear layers on the GPU. {@link #BF16} (the default): bf16 operands,
 * fp32 accumulation. {@link #FP8}: each weight of at least {@link CudaOps#FP8_MIN_WEIGHT} elements gets an FP8 E4M3
 * copy with one scale per output feature when it is uploaded, and each product of at least
 * {@link CudaOps#FP8_MIN_ROWS} rows quantizes its activations per row (one pass) and runs cuBLASLt's FP8 GEMM
 * (outer-vector scales, fp32 accumulation, bf16 out): measured 1.6–2.0× faster per GEMM on an H200, at ≈ 3.6 %
 * relative error per product against ≈ 0.17 % for bf16 (docs/BENCHMARKS.md). Products cuBLASLt has no FP8 algorithm
 * for run in bf16. Set by property {@value #PROPERTY} or {@value #ENV}.
 */
public enum GemmPrecision {
    BF16("bf16"),
    FP8("fp8");

    public static final String PROPERTY = "sparserender.gemm.precision";
    public static final String ENV = "SPARSE_RENDER_GEMM_PRECISION";

    private final String label;

    GemmPrecision(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** The precision named {@code value} ({@code where} names the flag or setting in the error). */
    public static GemmPrecision parse(String value, String where) {
        String v = value.strip().toLowerCase(Locale.ROOT);
        for (GemmPrecision p : values()) {
            if (p.label.equals(v)) {
                return p;
            }
        }
        throw new IllegalArgumentException("Invalid GEMM precision '" + value + "' (" + where + "): expected one of "
                + Arrays.stream(values()).map(GemmPrecision::label).toList());
    }

    /** Property {@value #PROPERTY}, else {@value #ENV}, else bf16. */
    public static GemmPrecision configured() {
        String v = System.getProperty(PROPERTY, System.getenv().getOrDefault(ENV, BF16.label));
        try {
            return parse(v, PROPERTY + " / " + ENV);
        } catch (IllegalArgumentException e) {
            throw new GpuException(e.getMessage());
        }
    }
}
