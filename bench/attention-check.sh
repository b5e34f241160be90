#!/usr/bin/env bash
# attention-check.sh: one GPU-host visit for the attention kernel (issue 5): the attention gpu test(s)
# from the bundle, `bench attention` (ours, video-like inputs) and PyTorch SDPA (flash, cuDNN) at the
# same shapes in the same call, one combined table at the end.
# Usage: bench/attention-check.sh BUNDLE_DIR [OUT_DIR] [bench attention args...]   (bundle built with --with-tests)
#   SKIP_GPU_TESTS=1 skips the tests; GPU_TEST_SELECT overrides the launcher's selection
#   (default: --include-classname '.*Attention.*GpuTest': the kernels, the pre-pass, the listed policies, the CLI).
set -uo pipefail
bundle="${1:?usage: attention-check.sh BUNDLE_DIR [OUT_DIR] [bench attention args...]}"
out="${2:-${OUT:-/tmp/attention-check}}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shift; [ $# -gt 0 ] && shift
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
tests_rc=0
if [ "${SKIP_GPU_TESTS:-0}" != 1 ]; then
  echo "== gpu tests"
  # shellcheck disable=SC2086
  "$bundle/bin/gpu-tests" ${GPU_TEST_SELECT:---include-classname .*Attention.*GpuTest} 2>&1 \
      | tee "$out/gpu-tests.txt" | grep -E "flipped|flips|estimate rows|seed|✘|FAIL|Error|expected|gpu tests:|tests (successful|failed)" | tail -120
  tests_rc=${PIPESTATUS[0]}
fi
echo "== bench attention (ours)"
SPARSE_RENDER_JAVA_OPTS="-Xmx48g" "$bundle/bin/sparse-render" bench attention "$@" 2>&1 | tee "$out/attention_java.jsonl"
echo "== PyTorch SDPA (same shapes) and the table"
PYTHONUNBUFFERED=1 python3 "$here/attention_torch.py" --ours "$out/attention_java.jsonl" --json "$out/attention_torch.jsonl" 2>&1 | tee "$out/attention_table.md"
[ -f "$out/gpu-tests.txt" ] && tail -1 "$out/gpu-tests.txt"
exit "$tests_rc"
