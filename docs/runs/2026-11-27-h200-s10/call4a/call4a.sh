#!/bin/bash
# Session 10 call 4a (final ws-fp8 kernel): every gpu test but whole-clip generation; attention table with PyTorch; DiT forward ws vs ws-fp8
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name --format=csv,noheader
mkdir -p /tmp/sh && ln -sfn $PWD/.device/fxd /tmp/sh/fixtures
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Dsparserender.shared=/tmp/sh timeout 300 $B/bin/gpu-tests --exclude-classname '.*CudaGenerationGpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; grep -E "tests (successful|failed|skipped)" $OUT/gpu-tests.txt; grep -B2 -A8 "AssertionFailed\|Exception:\|AssertionError" $OUT/gpu-tests.txt | grep -v '^\s*at ' | head -30
SPARSE_RENDER_JAVA_OPTS=-Xmx64g timeout 150 $B/bin/sparse-render bench attention --kernel 'ws,ws-fp8' --policy 'dense' > $OUT/attn.jsonl 2>&1
echo "bench rc=$?"
python3 bench/attention_torch.py --ours $OUT/attn.jsonl --json $OUT/torch.jsonl 2>&1 | tail -10
for k in ws ws-fp8; do
  SPARSE_RENDER_GEMM_PRECISION=fp8 SPARSE_RENDER_ATTENTION_KERNEL=$k SPARSE_RENDER_JAVA_OPTS="-Xmx48g" timeout 150 $B/bin/sparse-render bench dit --random-weights --batch 2 --policy dense --iters 5 > $OUT/dit_$k.jsonl 2>&1
  echo "dit $k rc=$?"; grep -v split_by_launch $OUT/dit_$k.jsonl | grep 'median\|rel_l2' | cut -c1-300
done
