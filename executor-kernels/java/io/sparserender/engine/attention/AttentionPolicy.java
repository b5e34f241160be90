package io.sparserender.engine.attention;

import java.util.Objects;

/**
 * The sparse-attention policies (DESIGN §4), one record each, all with a {@link Tiling}. Parsed from a
 * spec string by {@link PolicySpec}; {@link #spec()} gives the canonical spec with every key written out.
 *
 * <p>Where each rule lives: the in-loop rules (blasst, dynsparse, recall, hybrid) are in
 * {@link LoopRule}; the pre-pass rules that skip QKᵀ (topk, topp, hybrid) are in {@link TilePlanner};
 * {@link TiledAttention} only runs the loop. The CUDA kernel mirrors those two classes one to one.
 */
public sealed interface AttentionPolicy {
    Tiling tiling();

    /** The policy's name in a spec string. */
    String name();

    /** The canonical spec, e.g. {@code recall:r=0.95,bound=max,br=64,bc=64,order=natural}. */
    String spec();

    /** Whether this policy's pre-pass may skip tiles before QKᵀ (topk, topp, hybrid). */
    default boolean skipsBeforeQk() {
        return false;
    }

    /** No decision: every tile is computed. */
    record Dense(Tiling tiling) implements AttentionPolicy {
        public Dense {
            Objects.requireNonNull(tiling, "tiling is null");
        }

        @Override public String name() {
            return "dense";
        }

        @Override public String spec() {
            return "dense:" + tiling.specSuffix();
        }
    }

    /** Before the loop: keep the {@code k} kv-tiles with the largest mean-pooled estimate per q-tile. */
    record TopK(int k, Tiling tiling) implements AttentionPolicy {
        public TopK {
            Objects.requireNonNull(tiling, "tiling is null");
            if (k < 1) {
                throw new IllegalArgumentException("Invalid topk: k must be at least 1, got " + k);
            }
        }

        @Override public String name() {
            return "topk";
        }

        @Override public String spec() {
            return "topk:k=" + k + "," + tiling.specSuffix();
        }

        @Override public boolean skipsBeforeQk() {
            return true;
        }
    }

    /** Before the loop: keep the smallest set of kv-tiles whose estimated mass reaches {@code p}. */
    record TopP(double p, Tiling tiling) implements AttentionPolicy {
        public TopP {
            Objects.requireNonNull(tiling, "tiling is null");
            if (!(p > 0 && p <= 1)) {
                throw new IllegalArgumentException("Invalid topp: p must be in (0, 1], got " + p);
            }
        }

        @Override public String name() {
            return "topp";
        }

        @Override public String spec() {
            return "topp:p=" + PolicySpec.num(p) + "," + tiling.specSuffix();
        }

        @Override public boolean skipsBeforeQk() {
            return true;
        }
    }

    /** BLASST: skip when every row's tile maximum is below its running maximum by more than −ln(scale/L). */
    record Blasst(double scale, Tiling tiling) implements AttentionPolicy {
        public Blasst {
            Objects.requireNonNull(tiling, "tiling is null");
            if (!(scale > 0) || Double.isInfinite(scale)) {
                throw new IllegalArgumentException("Invalid blasst: scale must be a positive number, got " + scale);
            }
        }

        /** The threshold ln(scale / L) that {@code tilemax − runningmax} is compared with. */
        public double threshold(int seqLen) {
            return Math.log(scale / seqLen);
        }

        @Override public String name() {
            return "blasst";
        }

        @Override public String spec() {
            return "blasst:scale=" + PolicySpec.num(scale) + "," + tiling.specSuffix();
        }
    }

    /**
     * DynSparse: skip when every row's tile maximum is below its running log-sum-exp by more than −λ.
     * Exactly one of {@code lambda} and {@code preal} is given (the other is NaN); from P_real,
     * λ = ln(P_real) + ln(bc / L).
     */
    record DynSparse(double lambda, double preal, Tiling tiling) implements AttentionPolicy {
        public DynSparse {
            Objects.requireNonNull(tiling, "tiling is null");
            if (Double.isNaN(lambda) == Double.isNaN(preal)) {
                throw new IllegalArgumentException("Invalid dynsparse: give exactly one of lambda and preal");
            }
            if (!Double.isNaN(preal) && !(preal > 0) || Double.isInfinite(preal) || Double.isInfinite(lambda)) {
                throw new IllegalArgumentException("Invalid dynsparse: preal must be a positive number, lambda finite");
            }
        }

        /** λ for sequence length {@code seqLen}. */
        public double lambdaFor(int seqLen) {
            return Double.isNaN(preal) ? lambda : Math.log(preal) + Math.log((double) tiling.bc() / seqLen);
        }

        @Override public String name() {
            return "dynsparse";
        }

        @Override public String spec() {
            String p = Double.isNaN(preal) ? "lambda=" + PolicySpec.num(lambda) : "preal=" + PolicySpec.num(preal);
            return "dynsparse:" + p + "," + tiling.specSuffix();
        }
    }

    /** Recall-guaranteed: every row keeps at least fraction {@code r} of its softmax mass, by construction. */
    record Recall(double r, RecallBound bound, Tiling tiling) implements AttentionPolicy {
        public Recall {
            Objects.requireNonNull(tiling, "tiling is null");
            Objects.requireNonNull(bound, "bound is null");
            checkR(r);
        }

        @Override public String name() {
            return "recall";
        }

        @Override public String spec() {
            return "recall:r=" + PolicySpec.num(r) + ",bound=" + bound.specName() + "," + tiling.specSuffix();
        }
    }

    /**
     * {@code recall(r)} behind a pre-pass: kv-tiles ordered by estimated mass (order=estimate by default)
     * and QKᵀ skipped for the least massive tiles whose estimated masses sum to at most
     * {@code pre · (1 − r)}; the in-loop rule then runs with the remaining budget
     * {@code (1 − pre) · (1 − r)}. See {@link TilePlanner} for the rule; recall is measured, not
     * guaranteed, because the pre-skips trust the estimate. With the mean-pooled estimate (no prior), the
     * {@code global} kv-tiles whose best key scores highest against the head's mean query (attention sinks,
     * which pooling dilutes away) are never pre-skipped ({@link TileEstimates#globalTiles}).
     */
    record Hybrid(double r, RecallBound bound, double pre, int global, Tiling tiling) implements AttentionPolicy {
        public static final double DEFAULT_PRE = 0.2;
        /** Global tiles kept per head by default (docs/BENCHMARKS.md, "hybrid's worst rows: CPU study"). */
        public static final int DEFAULT_GLOBAL = 8;

        public Hybrid {
            Objects.requireNonNull(tiling, "tiling is null");
            Objects.requireNonNull(bound, "bound is null");
            checkR(r);
            if (!(pre >= 0 && pre <= 1)) {
                throw new IllegalArgumentException("Invalid hybrid: pre must be in [0, 1], got " + pre);
            }
            if (global < 0) {
                throw new IllegalArgumentException("Invalid hybrid: global must be at least 0, got " + global);
            }
        }

        public Hybrid(double r, RecallBound bound, double pre, Tiling tiling) {
            this(r, bound, pre, DEFAULT_GLOBAL, tiling);
        }

        /** The recall the in-loop rule guarantees among visited tiles: 1 − (1 − pre)(1 − r). */
        public double loopRecall() {
            return 1 - (1 - pre) * (1 - r);
        }

        /**
         * Whether an in-loop rule runs: not at {@code pre = 1}, where the pre-pass takes the whole budget and the
         * rule's own would be zero (it could then skip only tiles whose bound underflows to 0, and would cost the
         * kernels its per-tile test and vote for nothing: docs/BENCHMARKS.md, session 9).
         */
        public boolean hasLoopRule() {
            return pre < 1;
        }

        @Override public String name() {
            return "hybrid";
        }

        @Override public String spec() {
            return "hybrid:r=" + PolicySpec.num(r) + ",bound=" + bound.specName() + ",pre=" + PolicySpec.num(pre)
                    + ",global=" + global + "," + tiling.specSuffix();
        }

        @Override public boolean skipsBeforeQk() {
            return true;
        }
    }

    private static void checkR(double r) {
        if (!(r > 0 && r <= 1)) {
            throw new IllegalArgumentException("Invalid recall target: r must be in (0, 1], got " + r);
        }
    }
}
