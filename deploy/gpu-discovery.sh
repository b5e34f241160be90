#!/usr/bin/env bash
# Spark resource discovery script for GPUs (spark.executor.resource.gpu.discoveryScript and
# spark.driver.resource.gpu.discoveryScript): prints {"name":"gpu","addresses":[...]} with the
# indices nvidia-smi reports. With no GPU (or no nvidia-smi) it prints an empty address list, so a
# misconfigured node fails Spark's resource check with a clear message instead of a script error.
set -euo pipefail
addresses=""
if command -v nvidia-smi >/dev/null 2>&1; then
  while IFS= read -r idx; do
    idx="${idx//[[:space:]]/}"
    [ -n "$idx" ] || continue
    addresses="${addresses:+$addresses,}\"$idx\""
  done < <(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null || true)
fi
printf '{"name":"gpu","addresses":[%s]}\n' "$addresses"
