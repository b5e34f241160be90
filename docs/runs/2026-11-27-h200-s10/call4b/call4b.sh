#!/bin/bash
# Session 10 call 4b (warm machine, bundle of call 4a): 5B clips: fp8 GEMMs with ws (bf16) dense, ws-fp8 dense (2 clips), and ws with a fixed topk budget at br=128
B=$PWD/.device/bundle
ls $B/bin/sparse-render >/dev/null || { echo "bundle gone"; exit 3; }
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_EXTRA_CP=$(printf '%s:' $PWD/.device/gen/*.jar)
run() {  # name kernel clips policy
  t0=$(date +%s)
  SPARSE_RENDER_GEMM_PRECISION=fp8 SPARSE_RENDER_ATTENTION_KERNEL=$2 SPARSE_RENDER_JAVA_OPTS="-Xmx48g" timeout 280 $B/bin/sparse-render bench generate \
    --config wan2.2-ti2v-5b --random-weights --out /tmp/clip_$1 --clips $3 --policy "$4" > $OUT/generate_$1.jsonl 2>&1
  echo "== $1 rc=$? $(( $(date +%s)-t0 ))s"
  grep -v SLF4J $OUT/generate_$1.jsonl | grep -v '^\s*$' | tail -3 | cut -c1-1200
}
run fp8attn ws-fp8 2 dense
run topk115 ws 1 'topk:k=115,br=128,bc=64'
run bf16attn ws 1 dense
