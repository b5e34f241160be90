#!/bin/bash
# Session 11 call 4: the whole-clip generation gpu tests that read the shared fixtures (umT5 against transformers, both VAE decoders against diffusers); FFmpeg's jars not carried (the tests that encode ran in call 3b)
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
mkdir -p /tmp/sh && ln -sfn $PWD/.device/fxg /tmp/sh/fixtures
SPARSE_RENDER_JAVA_OPTS=-Dsparserender.shared=/tmp/sh timeout 200 $B/bin/gpu-tests --include-classname '.*CudaGenerationGpuTest' > $OUT/gpu-tests-generation.txt 2>&1
echo "generation tests rc=$?"; grep -E "tests (successful|failed)" $OUT/gpu-tests-generation.txt; grep -E "Finished" $OUT/gpu-tests-generation.txt | sed 's/(\[engine.*//' | cut -c1-120
grep -B2 -A6 "Exception:\|AssertionError" $OUT/gpu-tests-generation.txt | grep -v '^\s*at ' | cut -c1-300 | head -30
