#!/bin/bash
# Session 10 call 5a: recall stride tests (and the fp8 attention tests once more)
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 200 $B/bin/gpu-tests --include-classname '.*(AttentionRecallGpuTest|DeferredAttentionStatsGpuTest|Fp8AttentionGpuTest)' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$?"; grep -E "tests (successful|failed)" $OUT/gpu-tests.txt; grep -B2 -A8 "AssertionFailed\|Exception:\|AssertionError" $OUT/gpu-tests.txt | grep -v '^\s*at ' | head -30
