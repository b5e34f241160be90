// attention_bounds.cuh: the recall bounds shared by flash_attention.cu and flash_attention_sm90.cu
// (Java twin: io.sparserender.engine.attention.RecallBound and LoopRule.Recall.bound).
#pragma once
#include <stdint.h>

namespace attn {

// RecallBound.BINS: 1-nat bins below the row maximum; scores further down share the tail bin.
constexpr int BINS = 6;

// One score into its bin: 8-bit counter k of a packed u64, k = ⌊(t − s)·scale⌋ below BINS, else BINS
// (t, s raw dot products). A masked column (past L, held as −∞) counts nowhere: the reference loops
// over c < cols only. At most 64 scores per row and tile, so a counter never carries into the next.
__device__ __forceinline__ unsigned long long bin_one(float sv, float t, float scale) {
    if (sv == -INFINITY) return 0ull;
    float below = (t - sv) * scale;
    int k = below < (float)BINS ? (int)below : BINS;
    return 1ull << (8 * k);
}

// The quad's counters summed, then Σ_k count_k · exp(t − k − m) in k order, as RecallBound (tn, mn:
// the row's tile max and running max, scaled). Every lane of the quad gets the bound.
__device__ __forceinline__ float binned_sum(unsigned long long cnt, float tn, float mn) {
    cnt += __shfl_xor_sync(0xffffffffu, cnt, 1);
    cnt += __shfl_xor_sync(0xffffffffu, cnt, 2);
    float sum = 0.f;
#pragma unroll
    for (int kb = 0; kb <= BINS; kb++) {
        int c = (int)((cnt >> (8 * kb)) & 0xFFull);
        if (c > 0) sum += (float)c * expf(tn - (float)kb - mn);
    }
    return sum;
}

}  // namespace attn
