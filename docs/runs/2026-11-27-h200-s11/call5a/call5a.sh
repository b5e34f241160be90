#!/bin/bash
# Session 11 call 5a: the old bundle (session 10's final jar, e61f5a9) beside the new one; write the random 5B model (bench generate stops at loading without the tokenizer's jars, carried in 5b)
B=$PWD/.device/bundle
rm -rf /tmp/old && cp -r $B /tmp/old && cp .device/old/sparse-render.jar /tmp/old/lib/ && cp -r $B /tmp/new
export SPARSE_RENDER_CUBLASLT=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublasLt.so.[0-9]*' -not -name '*.so.*.*' 2>/dev/null | sort -V | tail -1)
SPARSE_RENDER_JAVA_OPTS="-Xmx48g" timeout 200 $B/bin/sparse-render bench generate --config wan2.2-ti2v-5b --random-weights --out /tmp/clip_w --clips 1 > $OUT/write.txt 2>&1
echo "rc=$?"; grep write_s $OUT/write.txt; ls /tmp/sparse-render-models/
