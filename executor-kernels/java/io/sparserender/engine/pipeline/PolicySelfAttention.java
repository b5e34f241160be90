package io.sparserender.engine.pipeline;

import io.sparserender.engine.attention.AttentionOptions;
import io.sparserender.engine.attention.AttentionPolicy;
import io.sparserender.engine.attention.AttentionResult;
import io.sparserender.engine.attention.AttentionStats;
import io.sparserender.engine.attention.ExactRecall;
import io.sparserender.engine.attention.QkvInput;
import io.sparserender.engine.attention.TileMassTable;
import io.sparserender.engine.attention.TiledAttention;
import io.sparserender.engine.attention.VideoGrid;
import io.sparserender.engine.ops.Ops;
import io.sparserender.engine.tensor.Tensor;
import java.util.HashMap;
import java.util.Map;

/**
 * The DiT's self-attention under a sparse policy on the CPU: the tiled reference
 * ({@link TiledAttention}) with the token grid of the call (for local-first order), the tile masses the
 * same layer measured at the previous step as the prior ({@code hybrid}'s predictor, DESIGN §4), and
 * exact recall and error versus dense on sampled steps (every {@code exactEvery}-th step; 0 = never),
 * which costs one dense float64 pass.
 */
public final class PolicySelfAttention implements AttentionRecorder.Measured<Tensor> {
    /** Exact recall is measured on every 4th step (0, 4, 8, ...) unless told otherwise. */
    public static final int DEFAULT_EXACT_EVERY = 4;

    private final AttentionPolicy policy;
    private final int exactEvery;
    private final Map<Integer, TileMassTable> previous = new HashMap<>();
    private double[] last = {0, 0, Double.NaN, Double.NaN, Double.NaN};

    public PolicySelfAttention(AttentionPolicy policy, int exactEvery) {
        this.policy = policy;
        this.exactEvery = exactEvery;
    }

    /** The self-attention for a policy spec on the CPU: dense through Ops, every other policy through the tiled reference. */
    public static io.sparserender.engine.model.wan.SelfAttention<Tensor> forSpec(String spec) {
        AttentionPolicy policy = io.sparserender.engine.attention.PolicySpec.parse(spec);
        if (policy instanceof AttentionPolicy.Dense) {
            return io.sparserender.engine.model.wan.SelfAttention.dense();
        }
        return new PolicySelfAttention(policy, DEFAULT_EXACT_EVERY);
    }

    @Override
    public Tensor attend(Ops<Tensor> ops, Tensor q, Tensor k, Tensor v, Site site) {
        QkvInput in = new QkvInput(q, k, v);
        TileMassTable prior = previous.get(site.layer());
        if (prior != null && (prior.batch() != in.batch() || prior.seqLen() != in.seqLen())) {
            prior = null;
        }
        AttentionOptions options = new AttentionOptions(new VideoGrid(site.frames(), site.height(), site.width()), prior);
        AttentionResult r = TiledAttention.run(in, policy, options);
        previous.put(site.layer(), r.measured());
        AttentionStats s = r.stats();
        if (sampledStep(site.step(), exactEvery)) {
            s = ExactRecall.of(in, r);
        }
        last = new double[] {s.tileSparsity(), s.computeSaved(), orNaN(s.recallMean()), orNaN(s.recallP05()),
            orNaN(s.relL2VsDense())};
        return r.o();
    }

    /** Whether exact recall is measured at this denoising step (every {@code every}-th from 0; never for −1 or every 0). */
    static boolean sampledStep(int step, int every) {
        return every > 0 && step >= 0 && step % every == 0;
    }

    @Override
    public double[] lastStatistics() {
        return last.clone();
    }

    private static double orNaN(Double d) {
        return d == null ? Double.NaN : d;
    }
}
