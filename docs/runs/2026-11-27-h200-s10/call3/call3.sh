#!/bin/bash
# Session 10 call 3: ws-fp8 v4 (magic + ping-pong) against v1 and ws; tests on v4; DiT forward
B=$PWD/.device/bundle
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
export SPARSE_RENDER_TEST_DETAILS=flat
nvidia-smi --query-gpu=name --format=csv,noheader
SPARSE_RENDER_JAVA_OPTS=-Dsparserender.attention.fp8.variant=4 timeout 120 $B/bin/gpu-tests --include-classname '.*Fp8AttentionGpuTest' > $OUT/gpu-tests-v4.txt 2>&1
echo "tests v4 rc=$?"; grep -E "tests (successful|failed)" $OUT/gpu-tests-v4.txt; grep -A6 "AssertionFailed\|Exception:\|AssertionError" $OUT/gpu-tests-v4.txt | grep -v '^\s*at ' | head -24
for v in 4 1; do
  k=ws-fp8; [ $v = 4 ] && k='ws,ws-fp8'
  SPARSE_RENDER_JAVA_OPTS="-Xmx64g -Dsparserender.attention.fp8.variant=$v" timeout 150 $B/bin/sparse-render bench attention --kernel "$k" --policy 'dense' > $OUT/attn_v$v.jsonl 2>&1
  echo "bench v$v rc=$?"
  python3 - $OUT/attn_v$v.jsonl $v <<'PY'
import json,sys
for line in open(sys.argv[1]):
    if not line.startswith('{"impl'): continue
    r=json.loads(line)
    print(f'v{sys.argv[2]} {r["l"]:>6} {r["kernel"]:8} {r["median_ms"]:8.3f} ms {r["tflops_dense_equiv"]:7.1f} TF  relL2vsbf16 {r.get("rel_l2_vs_ws_bf16")}')
PY
done
for k in ws ws-fp8; do
  SPARSE_RENDER_GEMM_PRECISION=fp8 SPARSE_RENDER_ATTENTION_KERNEL=$k SPARSE_RENDER_JAVA_OPTS="-Xmx48g -Dsparserender.attention.fp8.variant=4" timeout 150 $B/bin/sparse-render bench dit --random-weights --batch 2 --policy dense --iters 5 > $OUT/dit_$k.jsonl 2>&1
  echo "dit $k rc=$?"; grep -v split_by_launch $OUT/dit_$k.jsonl | grep median | cut -c1-300
done
