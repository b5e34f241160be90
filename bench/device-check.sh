#!/usr/bin/env bash
# device-check.sh: everything one GPU host visit checks, in one go (docs/OPERATIONS.md):
#   the bundle's doctor, every `gpu` test from the bundle, then `bench gemm` (own kernel and cuBLASLt)
#   and PyTorch's torch.matmul at the same shapes, with one combined table at the end.
# Usage: bench/device-check.sh BUNDLE_DIR [OUT_DIR]    (the bundle built with --with-tests)
set -uo pipefail
bundle="${1:?usage: device-check.sh BUNDLE_DIR [OUT_DIR]}"
out="${2:-${OUT:-/tmp/device-check}}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shift; [ $# -gt 0 ] && shift   # the rest goes to `bench gemm` (e.g. --shape 4096x4096x4096)
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
if ! ldconfig -p | grep -q 'libcublasLt\.so\.'; then
  # cuBLASLt outside the loader's cache (e.g. inside a Python wheel): tell the engine where
  lt="$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)"
  [ -n "$lt" ] && export SPARSE_RENDER_CUBLASLT="$lt"
fi
echo "== doctor"
"$bundle/bin/sparse-render" doctor 2>&1 | tee "$out/doctor.txt"
tests_rc=0
if [ "${SKIP_GPU_TESTS:-0}" != 1 ]; then
  echo "== gpu tests"
  "$bundle/bin/gpu-tests" 2>&1 | tee "$out/gpu-tests.txt" | tail -60
  tests_rc=${PIPESTATUS[0]}
fi
echo "== bench gemm (ours)"
SPARSE_RENDER_JAVA_OPTS="-Xmx24g" "$bundle/bin/sparse-render" bench gemm "$@" 2>&1 | tee "$out/gemm_java.jsonl"
echo "== bench gemm (PyTorch, same shapes) and the table"
PYTHONUNBUFFERED=1 python3 "$here/gemm_torch.py" --ours "$out/gemm_java.jsonl" --json "$out/gemm_torch.jsonl" 2>&1 | tee "$out/gemm_table.md"
[ -f "$out/gpu-tests.txt" ] && tail -1 "$out/gpu-tests.txt"
exit "$tests_rc"
