#!/bin/bash
# Session 9 call 9 (final code): every gpu test but whole-clip generation
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name --format=csv,noheader
mkdir -p /tmp/sh && ln -sfn $PWD/.device/fxd /tmp/sh/fixtures
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Dsparserender.shared=/tmp/sh timeout 560 $B/bin/gpu-tests --exclude-classname '.*CudaGenerationGpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; tail -1 $OUT/gpu-tests.txt
sed 's/\x1b\[[0-9;]*m//g' $OUT/gpu-tests.txt | grep -B3 -A8 "=> Exception" | head -60
