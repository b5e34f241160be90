#!/bin/bash
# Session 11 call 5b (warm, bundles and model of 5a): one machine, the same 5B fixed-budget clip (topk:k=115,br=128,bc=64, ws-fp8, FP8 GEMMs) on session 10's final jar and on this session's
ls /tmp/old/bin/sparse-render /tmp/new/bin/sparse-render >/dev/null || { echo "bundles gone"; exit 3; }
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_EXTRA_CP=$(printf '%s:' $PWD/.device/gen/*.jar)
(nvidia-smi --query-gpu=clocks.sm,power.draw --format=csv,noheader -l 2 > $OUT/smi.csv &)
for v in ${VERSIONS:-old new}; do
  t0=$(date +%s)
  SPARSE_RENDER_GEMM_PRECISION=fp8 SPARSE_RENDER_ATTENTION_KERNEL=ws-fp8 SPARSE_RENDER_JAVA_OPTS="-Xmx48g" \
    timeout 200 /tmp/$v/bin/sparse-render bench generate --config wan2.2-ti2v-5b --random-weights --out /tmp/clip_$v --clips 1 --policy 'topk:k=115,br=128,bc=64' > $OUT/generate_$v.jsonl 2>&1
  echo "== $v rc=$? $(( $(date +%s)-t0 ))s"
  grep -v SLF4J $OUT/generate_$v.jsonl | grep -v '"step"' | grep -v '^\s*$' | tail -3 | cut -c1-700
  grep '"step"' $OUT/generate_$v.jsonl | awk -F'"s":' '{print $2}' | tr -d '}' | tr '\n' ' '; echo
done
