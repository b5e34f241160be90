#!/bin/bash
# Session 9 call 1: hybrid128-vote branch: tests + bench
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv
t0=$(date +%s)
$B/bin/gpu-tests --include-classname '.*(AttentionPolicies|AttentionRecall)GpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; grep -E "tests (successful|failed)|gpu tests:" $OUT/gpu-tests.txt; grep -B2 -A12 "MethodSource\|AssertionFailed\|Exception" $OUT/gpu-tests.txt | head -60
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Xmx48g timeout 420 $B/bin/sparse-render bench attention --kernel ws --policy 'dense;hybrid:r=0.95;hybrid:r=0.95,br=128;hybrid:r=0.95,pre=0.5;hybrid:r=0.95,pre=0.5,br=128;hybrid:r=0.95,pre=1,br=128' > $OUT/attn.jsonl 2>&1
echo "bench rc=$? $(( $(date +%s)-t0 ))s"
python3 - $OUT/attn.jsonl <<'PY'
import json,sys
for line in open(sys.argv[1]):
    if not line.startswith('{"impl'): continue
    r=json.loads(line)
    print(f'{r["l"]:>6} {r["policy"][:62]:62} {r["median_ms"]:8.3f} ms  sp {r["tile_sparsity"]:.3f} pre {r["skipped_before_qk"]:.3f} plan {r["plan_ms"]:.2f} rec {r["recall_mean"]:.4f} p05 {r["recall_p05"]:.3f}')
PY
tail -3 $OUT/attn.jsonl | grep -v '^{"impl' | head -3
