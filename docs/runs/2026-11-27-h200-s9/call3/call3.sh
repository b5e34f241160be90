#!/bin/bash
# Session 9 call 3: faster pre-pass scores (global 16-B staged, tile scores 4x4 per thread) vs call 2's jar; r sweep at pre=1 br=128
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name --format=csv,noheader
cp -r $B /tmp/old && cp .device/old/sparse-render.jar /tmp/old/lib/sparse-render.jar
t0=$(date +%s)
$B/bin/gpu-tests --include-classname '.*(AttentionPolicies|AttentionPlan)GpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; grep -E "gpu tests:" $OUT/gpu-tests.txt; grep -B2 -A12 "AssertionFailed\|Exception" $OUT/gpu-tests.txt | head -40
summ() { python3 - $1 <<'PY'
import json,sys
for line in open(sys.argv[1]):
    if not line.startswith('{"impl'): continue
    r=json.loads(line)
    print(f'{r["l"]:>6} {r["policy"][:64]:64} {r["median_ms"]:8.3f} ms  sp {r["tile_sparsity"]:.3f} pre {r["skipped_before_qk"]:.3f} plan {r["plan_ms"]:.2f} rec {r["recall_mean"]:.4f} p05 {r["recall_p05"]:.3f} min {r["recall_min"]:.3f}')
PY
}
P='dense;hybrid:r=0.975,pre=1,br=128;hybrid:r=0.975,pre=1,br=128,order=natural;hybrid:r=0.97,pre=1,br=128,order=natural;hybrid:r=0.965,pre=1,br=128,order=natural;hybrid:r=0.96,pre=1,br=128,order=natural'
for j in new old new2; do
  D=$B; [ $j = old ] && D=/tmp/old
  [ $j = new ] && PP="$P" || PP='dense;hybrid:r=0.975,pre=1,br=128;hybrid:r=0.975,pre=1,br=128,order=natural'
  t0=$(date +%s)
  SPARSE_RENDER_JAVA_OPTS=-Xmx48g timeout 200 $D/bin/sparse-render bench attention --kernel ws --policy "$PP" > $OUT/attn_$j.jsonl 2>&1
  echo "== $j rc=$? $(( $(date +%s)-t0 ))s"; summ $OUT/attn_$j.jsonl
done
NCU=$(which ncu || ls /usr/local/cuda*/bin/ncu | tail -1)
for sh in 1:31x22x40:24:128 1:21x45x80:40:128; do for j in new old; do
  D=$B; [ $j = old ] && D=/tmp/old
  SPARSE_RENDER_JAVA_OPTS=-Xmx48g timeout 100 $NCU --kernel-name regex:'^attn_' --metrics gpu__time_duration.sum --csv $D/bin/sparse-render bench attention --kernel ws --shape $sh --policy 'hybrid:r=0.975,pre=1,br=128,order=natural' --warmups 0 --iters 1 > $OUT/ncu_${j}_${sh//:/_}.csv 2>&1
  echo "== ncu $j $sh rc=$?"
  python3 - $OUT/ncu_${j}_${sh//:/_}.csv <<'PY'
import csv,sys,collections
rows=[r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
h=rows[0]; ki=h.index('Kernel Name'); vi=h.index('Metric Value')
t=collections.defaultdict(list)
for r in rows[1:]: t[r[ki]].append(float(r[vi].replace(',',''))/1e3)
print('  '.join(f'{k} {min(v):.1f}us' for k,v in t.items()), ' total', f'{sum(min(v) for v in t.values()):.1f}us')
PY
done; done
