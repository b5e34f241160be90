#!/bin/bash
# Session 11 call 1: the 8-bit listed kernel (branch fp8-list128): its gpu tests and the other attention gpu tests; attention table ws vs ws-fp8 for topk/hybrid at br 128
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
t0=$(date +%s)
timeout 200 $B/bin/gpu-tests --include-classname '.*(Fp8Attention|CudaAttention|Recall|Listed|Attention).*GpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; grep -E "tests (successful|failed|skipped)" $OUT/gpu-tests.txt; grep -B2 -A8 "AssertionFailed\|Exception:\|AssertionError" $OUT/gpu-tests.txt | grep -v '^\s*at ' | head -40
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Xmx64g timeout 240 $B/bin/sparse-render bench attention --kernel 'ws,ws-fp8' --policy 'dense;topk:k=115,br=128,bc=64;hybrid:r=0.975,pre=1,br=128,order=natural' > $OUT/attn.jsonl 2>&1
echo "bench rc=$? $(( $(date +%s)-t0 ))s"
grep -v SLF4J $OUT/attn.jsonl | cut -c1-400
