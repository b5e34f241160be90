#!/bin/bash
# Session 9 call 2: hybrid pre=1 without the in-loop rule; plan kernels' split
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$(date +%s)
$B/bin/gpu-tests --include-classname '.*(AttentionPolicies|AttentionPlan)GpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; grep -E "gpu tests:" $OUT/gpu-tests.txt; grep -B2 -A12 "AssertionFailed\|Exception" $OUT/gpu-tests.txt | head -40
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Xmx48g timeout 300 $B/bin/sparse-render bench attention --kernel ws --policy 'dense;hybrid:r=0.95,pre=0.5,br=128;hybrid:r=0.975,pre=1,br=128;hybrid:r=0.975,pre=1;hybrid:r=0.975,pre=1,br=128,order=natural;hybrid:r=0.99,pre=1,br=128;hybrid:r=0.95,pre=1,br=128' > $OUT/attn.jsonl 2>&1
echo "bench rc=$? $(( $(date +%s)-t0 ))s"
python3 - $OUT/attn.jsonl <<'PY'
import json,sys
for line in open(sys.argv[1]):
    if not line.startswith('{"impl'): continue
    r=json.loads(line)
    print(f'{r["l"]:>6} {r["policy"][:64]:64} {r["median_ms"]:8.3f} ms  sp {r["tile_sparsity"]:.3f} pre {r["skipped_before_qk"]:.3f} plan {r["plan_ms"]:.2f} rec {r["recall_mean"]:.4f} p05 {r["recall_p05"]:.3f} min {r["recall_min"]:.3f}')
PY
grep -v '^{"impl' $OUT/attn.jsonl | grep -iv slf4j | tail -5
NCU=$(which ncu || ls /usr/local/cuda*/bin/ncu | tail -1)
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Xmx48g timeout 200 $NCU --kernel-name regex:'^attn_' --metrics gpu__time_duration.sum --csv $B/bin/sparse-render bench attention --kernel ws --shape '1:21x45x80:40:128' --policy 'hybrid:r=0.975,pre=1,br=128;hybrid:r=0.975,pre=1,br=128,order=natural' --warmups 0 --iters 1 > $OUT/ncu_plan.csv 2>&1
echo "ncu rc=$? $(( $(date +%s)-t0 ))s"
python3 - $OUT/ncu_plan.csv <<'PY'
import csv,sys,collections
rows=[r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
h=rows[0]; ki=h.index('Kernel Name'); vi=h.index('Metric Value'); ii=h.index('ID')
for r in rows[1:]:
    print(r[ii], r[ki][:40], r[vi])
PY
