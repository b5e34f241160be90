#!/bin/bash
# Session 9 call 4 (final code): every gpu test but whole-clip generation; attention table with PyTorch; DiT with hybrid br=128 pre=1
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name --format=csv,noheader
mkdir -p /tmp/sh && ln -sfn $PWD/.device/fxd /tmp/sh/fixtures
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Dsparserender.shared=/tmp/sh timeout 330 $B/bin/gpu-tests --exclude-classname '.*CudaGenerationGpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; tail -1 $OUT/gpu-tests.txt; grep -B2 -A12 "AssertionFailed\|Exception:" $OUT/gpu-tests.txt | head -40
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Xmx48g timeout 200 $B/bin/sparse-render bench attention --kernel ws --policy 'dense;hybrid:r=0.95;hybrid:r=0.975,pre=1,br=128,order=natural;hybrid:r=0.97,pre=1,br=128,order=natural;hybrid:r=0.99,pre=1,br=128,order=natural' > $OUT/attn.jsonl 2>&1
echo "bench rc=$? $(( $(date +%s)-t0 ))s"
python3 bench/attention_torch.py --ours $OUT/attn.jsonl --json $OUT/torch.jsonl 2>&1 | tail -30
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Xmx48g timeout 240 $B/bin/sparse-render bench dit --batch 2 --policy 'dense;hybrid:r=0.975,pre=1,br=128,order=natural' > $OUT/dit_b2.jsonl 2>&1
echo "dit rc=$? $(( $(date +%s)-t0 ))s"
grep -v split_by_launch $OUT/dit_b2.jsonl | cut -c1-600 | tail -6
