#!/bin/bash
# Session 11 call 2a: every gpu test but whole-clip generation (LseRecall, the DiT's sampled recall from log-sum-exps, the listed 8-bit kernel's lse)
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name --format=csv,noheader
mkdir -p /tmp/sh && ln -sfn $PWD/.device/fxd /tmp/sh/fixtures
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Dsparserender.shared=/tmp/sh timeout 300 $B/bin/gpu-tests --exclude-classname '.*CudaGenerationGpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; grep -E "tests (successful|failed|skipped)" $OUT/gpu-tests.txt; grep -B2 -A8 "AssertionFailed\|Exception:\|AssertionError\|expected:" $OUT/gpu-tests.txt | grep -v '^\s*at ' | head -60
