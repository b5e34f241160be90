#!/bin/bash
# Session 9 call 8b (warm machine, bundle of call 8a): one 5B clip in fp8, then one in bf16, same machine
B=$PWD/.device/bundle
ls $B/bin/sparse-render >/dev/null || { echo "bundle gone"; exit 3; }
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_EXTRA_CP=$(printf '%s:' $PWD/.device/gen/*.jar)
for prec in fp8 bf16; do
  t0=$(date +%s)
  SPARSE_RENDER_GEMM_PRECISION=$prec SPARSE_RENDER_JAVA_OPTS="-Xmx48g" timeout 285 $B/bin/sparse-render bench generate \
    --config wan2.2-ti2v-5b --random-weights --out /tmp/clip_$prec --clips 1 > $OUT/generate_$prec.jsonl 2>&1
  echo "== $prec rc=$? $(( $(date +%s)-t0 ))s"
  grep -v SLF4J $OUT/generate_$prec.jsonl | grep -v '^\s*$' | tail -4 | cut -c1-900
done
