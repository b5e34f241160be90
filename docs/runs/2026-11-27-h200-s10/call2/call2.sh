#!/bin/bash
# Session 10 call 2: ws-fp8 variants (v0 cvt, v1 magic, v2 magic+overlap, v3 cvt+overlap): SASS counts, tests, bench
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name --format=csv,noheader
CUOBJ=$(ls /usr/local/cuda*/bin/cuobjdump 2>/dev/null | head -1)
$CUOBJ -sass .device/s10/f8.cubin > $OUT/f8.sass 2>&1
python3 - $OUT/f8.sass <<'PY'
import re,sys,collections
fn=None; c=collections.defaultdict(collections.Counter)
for line in open(sys.argv[1]):
    m=re.search(r'Function : (\S+)',line)
    if m: fn=m.group(1); continue
    m=re.search(r'/\*[0-9a-f]{4}\*/\s+(?:@!?U?P\w+\s+)?([A-Z0-9_.]+)',line)
    if m and fn: c[fn][m.group(1).split('.')[0]]+=1
for fn in sorted(c):
    k=c[fn]; print(fn[-3:], 'total',sum(k.values()), ' '.join(f'{o}:{k[o]}' for o in ['I2F','I2FP','MUFU','HGMMA','WARPGROUP','FFMA','FMNMX','F2FP','MOV','BAR','SYNCS'] if k[o]))
PY
for v in 1 2; do
  t0=$(date +%s)
  SPARSE_RENDER_JAVA_OPTS=-Dsparserender.attention.fp8.variant=$v timeout 120 $B/bin/gpu-tests --include-classname '.*Fp8AttentionGpuTest' > $OUT/gpu-tests-v$v.txt 2>&1
  echo "tests v$v rc=$? $(( $(date +%s)-t0 ))s"; grep -E "tests (successful|failed)" $OUT/gpu-tests-v$v.txt; grep -A6 "AssertionFailed\|Exception:\|AssertionError" $OUT/gpu-tests-v$v.txt | grep -v '^\s*at ' | head -24
done
timeout 150 $B/bin/gpu-tests --include-classname '.*(AttentionGpuTest|AttentionBf16OutputGpuTest)' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$?"; grep -E "tests (successful|failed)" $OUT/gpu-tests.txt
for v in 0 1 2 3; do
  t0=$(date +%s)
  k=ws-fp8; [ $v = 0 ] && k='ws,ws-fp8'
  SPARSE_RENDER_JAVA_OPTS="-Xmx64g -Dsparserender.attention.fp8.variant=$v" timeout 150 $B/bin/sparse-render bench attention --kernel "$k" --policy 'dense' > $OUT/attn_v$v.jsonl 2>&1
  echo "bench v$v rc=$? $(( $(date +%s)-t0 ))s"
  python3 - $OUT/attn_v$v.jsonl $v <<'PY'
import json,sys
for line in open(sys.argv[1]):
    if not line.startswith('{"impl'): continue
    r=json.loads(line)
    print(f'v{sys.argv[2]} {r["l"]:>6} {r["kernel"]:8} {r["median_ms"]:8.3f} ms {r["tflops_dense_equiv"]:7.1f} TF  relL2vsbf16 {r.get("rel_l2_vs_ws_bf16")}')
PY
done
