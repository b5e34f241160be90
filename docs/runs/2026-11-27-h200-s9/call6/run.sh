#!/bin/bash
cd .device/fp8probe
H=$(ls /usr/local/cuda*/include/cublasLt.h | head -1); echo $H
grep -n "OUTER_VEC\|CUBLASLT_MATMUL_DESC_A_SCALE_MODE\|CUBLASLT_MATMUL_DESC_B_SCALE_MODE\|CUBLASLT_MATMUL_DESC_FAST_ACCUM\|CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE\|SCALE_SCALAR_32F" $H | head -20
L=$(dirname $(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1))
nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a probe.cu -o probe -L$L -lcublasLt && LD_LIBRARY_PATH=$L ./probe
