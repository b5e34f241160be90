#!/usr/bin/env bash
# Builds the JNI shim (cublaslt_shim.c: cuBLASLt; tensor_map_shim.c: TMA tensor maps) into OUT/linux-x86_64/libsparserender_cublaslt.so.
# Called by Maven in process-resources with the output folder and the building JDK's home. Needs gcc
# and the JDK's JNI headers, not CUDA. Without gcc (or SPARSE_RENDER_SKIP_SHIM=1) it builds nothing and
# the engine uses its own GEMM kernel, saying why.
set -euo pipefail
out="$1"
jdk="$2"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lib="$out/linux-x86_64/libsparserender_cublaslt.so"
if [ "${SPARSE_RENDER_SKIP_SHIM:-0}" = 1 ] || ! command -v gcc >/dev/null 2>&1 \
   || [ ! -f "$jdk/include/jni.h" ] || [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "[shim] gcc, JNI headers ($jdk/include) or Linux x86-64 missing: cuBLASLt shim not built"
  rm -f "$lib"
  exit 0
fi
if [ -f "$lib" ] && [ "$lib" -nt "$src/cublaslt_shim.c" ] && [ "$lib" -nt "$src/tensor_map_shim.c" ] \
   && [ "$lib" -nt "$src/build-shim.sh" ]; then
  echo "[shim] up to date: $lib"
  exit 0
fi
mkdir -p "$(dirname "$lib")"
gcc -O2 -std=c11 -Wall -Wextra -Werror -shared -fPIC -I"$jdk/include" -I"$jdk/include/linux" \
    -o "$lib" "$src/cublaslt_shim.c" "$src/tensor_map_shim.c" -ldl
echo "[shim] built $lib"
