#!/usr/bin/env bash
# conv3d-check.sh: one GPU-host visit for the VAE kernels (issue 7): their gpu tests from the bundle,
# `bench conv3d` (ours, the Wan 2.2 decoder's convolutions) and cuDNN's conv3d through PyTorch at the
# same shapes in the same call, one combined table at the end.
# Usage: bench/conv3d-check.sh BUNDLE_DIR [OUT_DIR] [bench conv3d args...]   (bundle built with --with-tests)
#   SKIP_GPU_TESTS=1 skips the tests; GPU_TEST_SELECT overrides the launcher's selection
#   (default: Conv3dGpuTest and VaeOpsGpuTest).
set -uo pipefail
bundle="${1:?usage: conv3d-check.sh BUNDLE_DIR [OUT_DIR] [bench conv3d args...]}"
out="${2:-${OUT:-/tmp/conv3d-check}}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shift; [ $# -gt 0 ] && shift
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
tests_rc=0
if [ "${SKIP_GPU_TESTS:-0}" != 1 ]; then
  echo "== gpu tests"
  # shellcheck disable=SC2086
  "$bundle/bin/gpu-tests" ${GPU_TEST_SELECT:---include-classname .*(Conv3dGpuTest|VaeOpsGpuTest)} 2>&1 \
      | tee "$out/gpu-tests.txt" | grep -E "seed|✘|FAIL|Error|expected|never written|gpu tests:|tests (successful|failed)" | tail -80
  tests_rc=${PIPESTATUS[0]}
fi
echo "== bench conv3d (ours)"
SPARSE_RENDER_JAVA_OPTS="-Xmx16g" "$bundle/bin/sparse-render" bench conv3d "$@" 2>&1 | tee "$out/conv3d_java.jsonl"
echo "== cuDNN conv3d through PyTorch (same shapes) and the table"
PYTHONUNBUFFERED=1 python3 "$here/conv3d_torch.py" --ours "$out/conv3d_java.jsonl" --json "$out/conv3d_torch.jsonl" 2>&1 | tee "$out/conv3d_table.md"
[ -f "$out/gpu-tests.txt" ] && tail -1 "$out/gpu-tests.txt"
exit "$tests_rc"
