#!/usr/bin/env bash
# Compiles every executor-kernels/cuda/*.cu into one fatbin (one CUDA module): SASS for sm_80, sm_86,
# sm_89, sm_90a and compute_90 PTX for later cards. Called by Maven in process-resources with the
# output folder; without nvcc on the PATH (or with SPARSE_RENDER_SKIP_CUDA=1) it builds nothing and
# the CUDA backend says at start that its kernels were not built.
set -euo pipefail
out="$1"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fatbin="$out/kernels.fatbin"
mkdir -p "$out"

if [ "${SPARSE_RENDER_SKIP_CUDA:-0}" = 1 ] || ! command -v nvcc >/dev/null 2>&1; then
  echo "[fatbin] nvcc not on the PATH (or SPARSE_RENDER_SKIP_CUDA=1): CUDA kernels not built"
  rm -f "$fatbin"
  exit 0
fi

shopt -s nullglob
units=("$src"/*.cu)
if [ ${#units[@]} -eq 0 ]; then
  echo "[fatbin] no .cu files in $src"
  exit 0
fi

if [ -f "$fatbin" ] && [ -z "$(find "$src" -newer "$fatbin" \( -name '*.cu' -o -name '*.cuh' -o -name '*.sh' \) -print -quit)" ]; then
  echo "[fatbin] up to date: $fatbin"
  exit 0
fi

# One translation unit that includes every kernel file: one module, one cuModuleLoadData.
work="$(dirname "$out")/cuda-build"
mkdir -p "$work"
all="$work/all_kernels.cu"
: > "$all"
for u in "${units[@]}"; do
  printf '#include "%s"\n' "$u" >> "$all"
done

archs=(-gencode=arch=compute_80,code=sm_80
       -gencode=arch=compute_86,code=sm_86
       -gencode=arch=compute_89,code=sm_89
       -gencode=arch=compute_90a,code=sm_90a
       -gencode=arch=compute_90,code=compute_90)
echo "[fatbin] nvcc $(nvcc --version | tail -1): ${#units[@]} files -> $fatbin"
nvcc -fatbin -O3 -std=c++17 --threads "${SPARSE_RENDER_NVCC_THREADS:-2}" -I"$src" "${archs[@]}" \
     -o "$work/kernels.fatbin" "$all"
mv "$work/kernels.fatbin" "$fatbin"
