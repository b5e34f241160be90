#!/bin/bash
# Session 10 call 7: GELU inside the FFN's second quantization (fp8 GEMMs): tests, then bench dit with and without it (old jar in a copy of the bundle)
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name --format=csv,noheader
mkdir -p /tmp/sh && ln -sfn $PWD/.device/fxd /tmp/sh/fixtures
SPARSE_RENDER_JAVA_OPTS=-Dsparserender.shared=/tmp/sh timeout 200 $B/bin/gpu-tests --include-classname '.*(Fp8GemmGpuTest|CudaOpsGpuTest)' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$?"; grep -E "tests (successful|failed)" $OUT/gpu-tests.txt; grep -B2 -A8 "AssertionFailed\|Exception:\|AssertionError" $OUT/gpu-tests.txt | grep -v '^\s*at ' | head -30
cp -r $B /tmp/old && cp .device/old/sparse-render.jar /tmp/old/lib/
for v in new old; do
  BB=$B; [ $v = old ] && BB=/tmp/old
  SPARSE_RENDER_GEMM_PRECISION=fp8 SPARSE_RENDER_ATTENTION_KERNEL=ws-fp8 SPARSE_RENDER_JAVA_OPTS="-Xmx48g" timeout 100 $BB/bin/sparse-render bench dit --random-weights --batch 2 --policy dense --iters 5 > $OUT/dit_$v.jsonl 2>&1
  echo "dit $v rc=$?"; grep -v split_by_launch $OUT/dit_$v.jsonl | grep 'median\|rel_l2' | cut -c1-300
done
