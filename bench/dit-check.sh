#!/usr/bin/env bash
# dit-check.sh: the DiT forward benchmark with its baseline in the same run (docs/BENCHMARKS.md):
#   `sparse-render bench dit` (our CUDA backend, random weights) and bench/dit_diffusers.py (diffusers'
#   WanTransformer3DModel, random weights, PyTorch SDPA default/flash/cuDNN) at the same config and shape.
# Usage: bench/dit-check.sh BUNDLE_DIR [OUT_DIR] [-- extra `bench dit` args]
#   DIFFUSERS_PATH: a folder holding the `diffusers` package (its src/), put on PYTHONPATH.
set -uo pipefail
bundle="${1:?usage: dit-check.sh BUNDLE_DIR [OUT_DIR]}"
out="${2:-${OUT:-/tmp/dit-check}}"
shift; [ $# -gt 0 ] && shift; [ "${1:-}" = "--" ] && shift
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
config="${DIT_CONFIG:-wan2.2-ti2v-5b}"
frames="${DIT_FRAMES:-121}"
size="${DIT_SIZE:-1280x704}"
mkdir -p "$out"
if ! ldconfig -p | grep -q 'libcublasLt\.so\.'; then
  lt="$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)"
  [ -n "$lt" ] && export SPARSE_RENDER_CUBLASLT="$lt"
fi
echo "== bench dit (ours): $config, $frames frames, $size"
SPARSE_RENDER_JAVA_OPTS="-Xmx24g" "$bundle/bin/sparse-render" bench dit --config "$config" --random-weights \
  --frames "$frames" --size "$size" "$@" 2>&1 | tee "$out/dit_java.jsonl"
echo "== diffusers (same config and shape)"
PYTHONPATH="${DIFFUSERS_PATH:-}${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 python3 "$here/dit_diffusers.py" \
  --config "$here/../conf/models/$config.json" --frames "$frames" --size "$size" 2>&1 | tee "$out/dit_diffusers.jsonl"
