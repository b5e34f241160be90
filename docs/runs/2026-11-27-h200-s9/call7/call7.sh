#!/bin/bash
# Session 9 call 7: FP8 GEMM path: gpu tests, then bench dit bf16 vs fp8 with nvidia-smi
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$(date +%s)
$B/bin/gpu-tests --include-classname '.*(Fp8Gemm|Gemm|CudaOps)GpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; tail -1 $OUT/gpu-tests.txt; grep -B3 -A25 "AssertionFailed\|Exception:\|expected\|Expecting" $OUT/gpu-tests.txt | head -80
for prec in bf16 fp8; do
  nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw --format=csv,noheader -lms 500 > $OUT/smi_$prec.csv &
  SMI=$!
  t0=$(date +%s)
  SPARSE_RENDER_GEMM_PRECISION=$prec SPARSE_RENDER_JAVA_OPTS=-Xmx48g timeout 240 $B/bin/sparse-render bench dit --random-weights --batch 2 --policy dense --iters 5 > $OUT/dit_$prec.jsonl 2>&1
  echo "dit $prec rc=$? $(( $(date +%s)-t0 ))s"
  kill $SMI
  grep -v split_by_launch $OUT/dit_$prec.jsonl | grep -v SLF4J | cut -c1-400
  python3 - $OUT/dit_$prec.jsonl <<'PY'
import json,sys
for l in open(sys.argv[1]):
    if 'split_by_launch' in l:
        r=json.loads(l); print('  top:', '; '.join(f"{x['what']} {x['calls']}x {x['ms']:.1f}ms" for x in r['split_by_launch'][:9]))
PY
  python3 -c "
import statistics,sys
rows=[l.split(',') for l in open('$OUT/smi_$prec.csv') if l.count(',')==2]
c=[float(r[1].split()[0]) for r in rows]; p=[float(r[2].split()[0]) for r in rows]
print('  smi samples',len(c),'sm MHz median',statistics.median(c),'power W median',statistics.median(p))"
done
