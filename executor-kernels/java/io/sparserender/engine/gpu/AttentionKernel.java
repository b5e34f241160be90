package io.sparserender.engine.gpu;

import java.util.Arrays;
import java.util.Locale;

/**
 * Which kernel family {@link CudaAttention} runs. On compute 9.0: {@link #WG1} runs the
 * unlisted policies on {@code flash_attention_sm90.cu} (one warpgroup per CTA, two CTAs per SM),
 * {@link #WG2} on {@code flash_attention_sm90_2wg.cu} (two warpgroups per CTA sharing K and V: measured
 * 20-25% slower on an H200, docs/BENCHMARKS.md, so not the default), {@link #WG1_PV} on the same file's
 * PV-overlapped kernels (wg1 with each block's PV issued beside the next block's QKᵀ, both under that block's
 * softmax: FlashAttention-3's intra-warpgroup overlap; measured 13 % slower than wg1 on an H100, so not the
 * default either), {@link #WG1_LEAN} on its lean kernels (wg1 without the zeroing of S before each QKᵀ — the
 * first k-step overwrites — and without O's rescale in warps whose row maxima did not move; 1–2 % faster than wg1
 * measured on an H100), {@link #WS} the warp-specialised kernel ({@code flash_attention_sm90_ws.cu}: a TMA producer
 * warpgroup, two consumer warpgroups of 64 q rows sharing 128-key K/Vᵀ blocks; D = 128, D = 64 on wg1-lean; the
 * default: dense 1.6× wg1-lean and on par with cuDNN on an H100, docs/BENCHMARKS.md); ws runs the listed policies at D = 128,
 * bc = 64 on {@code flash_attention_sm90_ws_list.cu}, and every family runs the others
 * on {@code flash_attention_sm90.cu}'s listed kernels. {@link #WS_FP8} is ws with the dense policy at D = 128 on FP8
 * E4M3 operands ({@link CudaFp8Attention}: FlashAttention-3's FP8 recipe; opt-in, since its error against bf16
 * attention needs a trained checkpoint to judge); every other policy runs as on ws. {@link #MMA_SYNC} runs {@code flash_attention.cu}
 * everywhere, which is also what the other two fall back to on cards other than compute 9.0.
 */
public enum AttentionKernel {
    MMA_SYNC("mma-sync"),
    WG1("wg1"),
    WG2("wg2"),
    WG1_PV("wg1-pv"),
    WG1_LEAN("wg1-lean"),
    WS("ws"),
    WS_FP8("ws-fp8");

    /** The system property and environment variable that choose the default. */
    public static final String PROPERTY = "sparserender.attention.kernel";
    public static final String ENV = "SPARSE_RENDER_ATTENTION_KERNEL";

    private final String label;

    AttentionKernel(String label) {
        this.label = label;
    }

    /** The name used on the command line, in the setting and in benchmark rows. */
    public String label() {
        return label;
    }

    /** The kernel named {@code value} ({@code where} names the flag or setting in the error). */
    public static AttentionKernel parse(String value, String where) {
        String v = value.strip().toLowerCase(Locale.ROOT);
        for (AttentionKernel k : values()) {
            if (k.label.equals(v)) {
                return k;
            }
        }
        throw new IllegalArgumentException("Invalid attention kernel '" + value + "' (" + where + "): expected one of "
                + Arrays.stream(values()).map(AttentionKernel::label).toList());
    }

    /**
     * The configured default: property {@value #PROPERTY} or {@value #ENV}, else {@link #WS} (the fastest measured, for
     * every unlisted policy: docs/BENCHMARKS.md).
     */
    public static AttentionKernel configured() {
        String v = System.getProperty(PROPERTY, System.getenv().getOrDefault(ENV, WS.label));
        try {
            return parse(v, PROPERTY + " / " + ENV);
        } catch (IllegalArgumentException e) {
            throw new GpuException(e.getMessage());
        }
    }
}
