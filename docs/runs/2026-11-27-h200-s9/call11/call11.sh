#!/bin/bash
# Session 9 call 11: the ws kernels' shared softmax helpers (new) vs c33cc56 (old): attention gpu tests, bench new/old
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
cp -r $B /tmp/old && cp .device/old/sparse-render.jar /tmp/old/lib/sparse-render.jar
t0=$(date +%s)
$B/bin/gpu-tests --include-classname '.*(AttentionPolicies|AttentionRecall|Attention|AttentionBf16Output)GpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; tail -1 $OUT/gpu-tests.txt; sed 's/\x1b\[[0-9;]*m//g' $OUT/gpu-tests.txt | grep -A6 "=> Exception" | head -20
P='dense;recall:r=0.95;hybrid:r=0.95;hybrid:r=0.975,pre=1,br=128,order=natural;hybrid:r=0.95,pre=0.5,br=128'
for j in new old; do
  D=$B; [ $j = old ] && D=/tmp/old
  SPARSE_RENDER_JAVA_OPTS=-Xmx48g timeout 150 $D/bin/sparse-render bench attention --kernel ws --shape 1:31x22x40:24:128 --policy "$P" > $OUT/attn_$j.jsonl 2>&1
  echo "== $j rc=$?"
  python3 - $OUT/attn_$j.jsonl <<'PY'
import json,sys
for line in open(sys.argv[1]):
    if line.startswith('{"impl'):
        r=json.loads(line); print(f'{r["policy"][:60]:60} {r["median_ms"]:8.3f} ms sp {r["tile_sparsity"]:.3f} rec {r["recall_mean"]:.4f}')
PY
done
