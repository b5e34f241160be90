#!/bin/bash
# Session 10 call 1: 8-bit attention (ws-fp8) tests, then bench vs ws bf16 and PyTorch, then the DiT forward
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv,noheader
t0=$(date +%s)
timeout 200 $B/bin/gpu-tests --include-classname '.*(Fp8AttentionGpuTest|AttentionBf16OutputGpuTest|AttentionGpuTest)' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$? $(( $(date +%s)-t0 ))s"; tail -1 $OUT/gpu-tests.txt; grep -E "tests (successful|failed)" $OUT/gpu-tests.txt; grep -B2 -A14 "AssertionFailed\|Exception:\|AssertionError" $OUT/gpu-tests.txt | head -80
t0=$(date +%s)
SPARSE_RENDER_JAVA_OPTS=-Xmx64g timeout 240 $B/bin/sparse-render bench attention --kernel 'ws,ws-fp8' --policy 'dense' > $OUT/attn.jsonl 2>&1
echo "bench rc=$? $(( $(date +%s)-t0 ))s"
python3 - $OUT/attn.jsonl <<'PY'
import json,sys
for line in open(sys.argv[1]):
    if not line.startswith('{"impl'): continue
    r=json.loads(line)
    print(f'{r["l"]:>6} {r["kernel"]:8} {r["policy"][:30]:30} {r["median_ms"]:8.3f} ms {r["tflops_dense_equiv"]:7.1f} TF  relL2vsbf16 {r.get("rel_l2_vs_ws_bf16")}')
PY
grep -v '^{"impl' $OUT/attn.jsonl | tail -5
python3 bench/attention_torch.py --ours $OUT/attn.jsonl --json $OUT/torch.jsonl 2>&1 | tail -12
for k in ws ws-fp8; do
  t0=$(date +%s)
  SPARSE_RENDER_GEMM_PRECISION=fp8 SPARSE_RENDER_ATTENTION_KERNEL=$k SPARSE_RENDER_JAVA_OPTS=-Xmx48g timeout 150 $B/bin/sparse-render bench dit --random-weights --batch 2 --policy dense --iters 5 > $OUT/dit_$k.jsonl 2>&1
  echo "dit $k rc=$? $(( $(date +%s)-t0 ))s"
  grep -v split_by_launch $OUT/dit_$k.jsonl | cut -c1-500 | tail -3
done
