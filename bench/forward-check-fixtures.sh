#!/usr/bin/env bash
# forward-check-fixtures.sh: `sparse-render forward-check` on every component folder of ../shared/fixtures
# (DiT both timestep forms, umT5, both VAEs) with the given backend, and the relative L2 error of each
# output against the fixture's `expected` (diffusers / transformers in float64). This is the
# forward-check CLI path end to end on a GPU host (issue 6 / 7: "forward-check works on both backends").
# The DiT fixtures were computed on unpadded text (--no-pad), as the fixtures README says.
# Usage: bench/forward-check-fixtures.sh SPARSE_RENDER_BIN FIXTURES_DIR [OUT_DIR] [--backend cuda|cpu]
set -uo pipefail
bin="${1:?usage: forward-check-fixtures.sh SPARSE_RENDER_BIN FIXTURES_DIR [OUT_DIR] [forward-check args]}"
fx="${2:?fixtures dir}"
out="${3:-${OUT:-/tmp/forward-check}}"
shift 3 2>/dev/null || shift $#
extra=("$@")
mkdir -p "$out"
rc=0
check() {  # name model-dir case-file [forward-check args for this case]
  local name="$1" model="$2" case="$3"; shift 3
  if [ ! -e "$model" ] || [ ! -f "$case" ]; then echo "| $name | missing ($model, $case) | |"; return; fi
  local t0=$SECONDS
  if "$bin" forward-check --model "$model" --inputs "$case" --out "$out/$name.safetensors" "${extra[@]}" "$@" >"$out/$name.log" 2>&1; then
    python3 - "$case" "$out/$name.safetensors" "$name" "$((SECONDS - t0))" <<'PY'
import json, struct, sys
import numpy as np
def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]; head = json.loads(f.read(n)); data = f.read()
    dt = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}
    out = {}
    for k, v in head.items():
        if k == "__metadata__": continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=dt[v["dtype"]]).reshape(v["shape"]).astype(np.float64)
    return out
exp = read(sys.argv[1])["expected"]
got = next(iter(v for k, v in read(sys.argv[2]).items()))
rel = np.linalg.norm(got - exp) / np.linalg.norm(exp)
print(f"| {sys.argv[3]} | {rel:.2e} | {sys.argv[4]} s |")
PY
  else
    echo "| $name | FAILED (exit $?; $out/$name.log) | |"; tail -5 "$out/$name.log"; rc=1
  fi
}
echo "| component | rel L2 vs reference | wall |"
echo "|---|---|---|"
check dit-h128-scalar-t "$fx/wan-dit-h128/transformer" "$fx/wan-dit-h128/case-scalar-t.safetensors" --no-pad
check dit-h128-token-t "$fx/wan-dit-h128/transformer" "$fx/wan-dit-h128/case-token-t.safetensors" --no-pad
check dit-ti2v-scalar-t "$fx/wan-dit-ti2v/transformer" "$fx/wan-dit-ti2v/case-scalar-t.safetensors" --no-pad
check dit-ti2v-token-t "$fx/wan-dit-ti2v/transformer" "$fx/wan-dit-ti2v/case-token-t.safetensors" --no-pad
check umt5 "$fx/umt5/text_encoder" "$fx/umt5/case-encode.safetensors"
check vae22 "$fx/wan-vae22/vae" "$fx/wan-vae22/case-decode.safetensors"
check vae21 "$fx/wan-vae21/vae" "$fx/wan-vae21/case-decode.safetensors"
exit $rc
