#!/bin/bash
# Session 9 call 10: FP8 quantisation reading each row once (new) vs twice (old jar): tests, bench dit fp8 both
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
cp -r $B /tmp/old && cp .device/old/sparse-render.jar /tmp/old/lib/sparse-render.jar
t0=$(date +%s)
$B/bin/gpu-tests --include-classname '.*Fp8GemmGpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; tail -1 $OUT/gpu-tests.txt; sed 's/\x1b\[[0-9;]*m//g' $OUT/gpu-tests.txt | grep -A8 "=> Exception" | head -30
for j in new old; do
  D=$B; [ $j = old ] && D=/tmp/old
  SPARSE_RENDER_GEMM_PRECISION=fp8 SPARSE_RENDER_JAVA_OPTS=-Xmx48g timeout 200 $D/bin/sparse-render bench dit --random-weights --batch 2 --policy dense --iters 5 > $OUT/dit_fp8_$j.jsonl 2>&1
  echo "== $j rc=$?"; grep '"policy":"dense","b"\|forward_rel' $OUT/dit_fp8_$j.jsonl | cut -c1-300
  python3 - $OUT/dit_fp8_$j.jsonl <<'PY'
import json,sys
for l in open(sys.argv[1]):
    if 'split_by_launch' in l:
        r=json.loads(l); print('  ', '; '.join(f"{x['what']} {x['calls']}x {x['ms']:.1f}ms" for x in r['split_by_launch'] if 'fp8' in x['what']))
PY
done
