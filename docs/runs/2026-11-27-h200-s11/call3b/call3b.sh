#!/bin/bash
# Session 11 call 3b (warm, bundle of 3a): whole-clip generation gpu tests (with the fixtures); 5B clips at the fixed 27 % budget on ws-fp8 with FP8 GEMMs, two clips (final code: device gather for umT5's bias, parallel noise, recall summaries off the render thread, text encoder's host copy at load)
B=$PWD/.device/bundle
ls $B/bin/sparse-render >/dev/null || { echo "bundle gone"; exit 3; }
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_EXTRA_CP=$(printf '%s:' $PWD/.device/gen/*.jar)
export SPARSE_RENDER_TEST_DETAILS=flat
mkdir -p /tmp/sh && ln -sfn $PWD/.device/fxd /tmp/sh/fixtures
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Dsparserender.shared=/tmp/sh timeout 170 $B/bin/gpu-tests --include-classname '.*CudaGenerationGpuTest' > $OUT/gpu-tests-generation.txt 2>&1
echo "generation tests rc=$? $(( $(date +%s)-t0 ))s"; grep -E "tests (successful|failed)" $OUT/gpu-tests-generation.txt; grep -B2 -A8 "AssertionFailed\|Exception:\|AssertionError" $OUT/gpu-tests-generation.txt | grep -v '^\s*at ' | head -30
(nvidia-smi --query-gpu=clocks.sm,power.draw --format=csv,noheader -l 2 > $OUT/smi.csv &)
t0=$(date +%s)
SPARSE_RENDER_GEMM_PRECISION=fp8 SPARSE_RENDER_ATTENTION_KERNEL=ws-fp8 SPARSE_RENDER_JAVA_OPTS="-Xmx48g" \
  timeout 400 $B/bin/sparse-render bench generate --config wan2.2-ti2v-5b --random-weights --out /tmp/clip_topk --clips 2 --policy 'topk:k=115,br=128,bc=64' > $OUT/generate_topk115.jsonl 2>&1
echo "== topk115 ws-fp8 rc=$? $(( $(date +%s)-t0 ))s"
grep -v SLF4J $OUT/generate_topk115.jsonl | grep -v '"step"' | grep -v '^\s*$' | tail -4 | cut -c1-900
grep '"step"' $OUT/generate_topk115.jsonl | awk -F'"s":' '{print $2}' | tr -d '}' | tr '\n' ' '; echo
cp /tmp/clip_topk/*.json $OUT/ 2>/dev/null; ls /tmp/clip_topk
