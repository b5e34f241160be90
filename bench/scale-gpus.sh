#!/usr/bin/env bash
# scale-gpus.sh: generate's throughput on one GPU and on every GPU of this host, same prompts, same model, one
# session (issue 10, "Scale on several GPUs"; docs/BENCHMARKS.md, docs/OPERATIONS.md "Several GPUs per host").
#
# Run from the repository root on the GPU host, with the distribution unpacked at /tmp/spk (rt + lib,
# bench/device-split-dist.sh):
#   bench/scale-gpus.sh [all|model|runs|summary]
#     model    write the 5B-shaped random model once (bench generate --model-only; CPU only, ~2-7 min; kept)
#     runs     generate on 1 GPU, then on G GPUs (G = the GPUs the discovery script reports), then the table
#     summary  the table again from the kept outputs
#     all      model, then runs (default)
# Both runs use the same mechanism: Spark local-cluster with ONE worker that owns the host's GPUs through
# deploy/gpu-discovery.sh, and one executor (1 core, 1 GPU) per GPU; the 1-GPU run is the same with G = 1.
#
# Environment (defaults): OUT (raw outputs kept: sidecars, manifests, logs; /tmp/scale-gpus/out),
# SCALE_WORK (/tmp/scale-gpus: generate outputs incl. MP4s), JAVA_HOME (/tmp/spk/rt), SPARSE_RENDER_LIB
# (/tmp/spk/lib), MODEL_CACHE (/tmp/srm), MODEL (the random 5B folder there), CLIPS (8), FRAMES (41),
# SIZE (1280x704), STEPS (10), EXECUTOR_MEMORY_GB (16 per executor; the driver keeps -Xmx8g),
# GPUS (all the discovery script reports), DISCOVERY (deploy/gpu-discovery.sh), BACKEND (cuda),
# RUN_TIMEOUT (480 s per run), MODEL_TIMEOUT (540 s), MODEL_HEAP (64g: the model writer's JVM heap).
# Dry run without a GPU (mechanics only; all clips read device "cpu"):
#   BACKEND=cpu MODEL=wan-tiny DISCOVERY=/path/to/fake-discovery.sh GPUS=2 bench/scale-gpus.sh runs
set -uo pipefail
phase="${1:-all}"
case "$phase" in all|model|runs|summary) ;; *) echo "scale-gpus: unknown phase '$phase': use all, model, runs or summary" >&2; exit 2;; esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
export JAVA_HOME="${JAVA_HOME:-/tmp/spk/rt}"
export SPARSE_RENDER_LIB="${SPARSE_RENDER_LIB:-/tmp/spk/lib}"
# nvidia-smi numbers GPUs in PCI bus order; make CUDA (and so each executor's cuDeviceGet) agree.
export CUDA_DEVICE_ORDER="${CUDA_DEVICE_ORDER:-PCI_BUS_ID}"
work="${SCALE_WORK:-/tmp/scale-gpus}"
out="${OUT:-$work/out}"
cache="${MODEL_CACHE:-/tmp/srm}"
config=wan2.2-ti2v-5b
model="${MODEL:-$cache/$config-random-1}"
clips="${CLIPS:-8}"
frames="${FRAMES:-41}"
size="${SIZE:-1280x704}"
steps="${STEPS:-10}"
exec_gb="${EXECUTOR_MEMORY_GB:-16}"
backend="${BACKEND:-cuda}"
discovery="${DISCOVERY:-$root/deploy/gpu-discovery.sh}"
run_timeout="${RUN_TIMEOUT:-480}"
model_timeout="${MODEL_TIMEOUT:-540}"
mkdir -p "$work" "$out" || { echo "scale-gpus: cannot create $work or $out" >&2; exit 1; }

say() { printf '[scale-gpus %s] %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$out/scale-gpus.log"; }

[ -x "$JAVA_HOME/bin/java" ] || { say "no Java at JAVA_HOME=$JAVA_HOME (unpack the distribution to /tmp/spk first)"; exit 1; }
[ -f "$SPARSE_RENDER_LIB/sparse-render.jar" ] || { say "no sparse-render.jar in SPARSE_RENDER_LIB=$SPARSE_RENDER_LIB"; exit 1; }
command -v python3 >/dev/null || { say "python3 is needed for the table (bench/scale_gpus_summary.py)"; exit 1; }

write_model() {
  if [ -d "$model" ]; then say "model: $model exists, reused"; return 0; fi
  if [ "$model" != "$cache/$config-random-1" ]; then say "model: $model does not exist (MODEL is set; nothing to write)"; return 1; fi
  say "model: writing the $config-shaped random model under $cache (once; CPU only)"
  # the writer generates several large tensors at once (umT5's 256k x 4096 embedding alone is 4 GiB in float32): the
  # launcher's default 8 GiB heap is too small (seen on the device: OutOfMemoryError), so give it MODEL_HEAP
  SPARSE_RENDER_JAVA_OPTS="-Xmx${MODEL_HEAP:-64g}" timeout -k 30 "$model_timeout" bin/sparse-render bench generate --config "$config" \
    --random-weights --seed 1 --cache "$cache" --model-only 2>&1 | tee "$out/model.log"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ] || [ ! -d "$model" ]; then say "model: writing failed (exit $rc; 124 = over ${model_timeout}s), see $out/model.log"; return 1; fi
  say "model: $model written"
}

gpu_count() {
  "$discovery" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["addresses"]))'
}

run_generate() { # $1 = number of GPUs (executors)
  local g=$1 dir="$work/run-${1}gpu" keep="$out/run-${1}gpu"
  rm -rf "$dir" "$keep" && mkdir -p "$dir" "$keep/clips" "$keep/executors"
  local mem_mb=$(( g * exec_gb * 1024 ))
  say "run ${g} GPU: local-cluster[1,$g,$mem_mb], $g executor(s) of 1 core, 1 GPU, ${exec_gb} GiB heap; $clips clips ${size}x${frames}, $steps steps"
  local t0 t1 rc
  t0=$(date +%s.%N)
  SPARSE_RENDER_SPARK_HOME="$dir/spark-home" timeout -k 30 "$run_timeout" bin/sparse-render generate \
    --prompts "$work/prompts.jsonl" --model "$model" --backend "$backend" \
    --frames "$frames" --size "$size" --steps "$steps" --out "$dir/out" --run-id "scale-${g}gpu" \
    --master "local-cluster[1,$g,$mem_mb]" \
    --conf spark.worker.resource.gpu.amount="$g" \
    --conf spark.worker.resource.gpu.discoveryScript="$discovery" \
    --conf spark.executor.resource.gpu.amount=1 \
    --conf spark.task.resource.gpu.amount=1 \
    --conf spark.executor.cores=1 \
    --conf spark.executor.memory="${exec_gb}g" \
    --conf spark.default.parallelism="$g" \
    > "$keep/generate.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  echo "$rc" > "$keep/rc"
  python3 -c "print(round($t1 - $t0, 2))" > "$keep/wall_s"
  cp "$dir"/out/clips/*.json "$keep/clips/" 2>/dev/null
  cp "$dir"/out/runs/*.json "$keep/" 2>/dev/null
  for e in "$dir"/spark-home/work/app-*/*/; do
    [ -d "$e" ] || continue
    mkdir -p "$keep/executors/$(basename "$e")"
    cp "$e"stderr "$e"stdout "$e"resource-executor-*.json "$keep/executors/$(basename "$e")/" 2>/dev/null
  done
  tail -4 "$keep/generate.log" | sed 's/^/    /'
  if [ "$rc" -ne 0 ]; then say "run ${g} GPU: exit $rc (124 = over ${run_timeout}s); log $keep/generate.log"; fi
  if command -v nvidia-smi >/dev/null; then
    sleep 2
    local left
    left="$(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader 2>/dev/null)"
    [ -z "$left" ] || say "run ${g} GPU: processes still hold GPU memory after the run (the next run's arenas will be smaller): $left"
  fi
  return "$rc"
}

runs() {
  [ -f "$discovery" ] || { say "no discovery script at $discovery"; return 1; }
  # Spark runs the script directly: an executable copy, whatever the checkout's file modes
  cp "$discovery" "$work/gpu-discovery.sh" && chmod +x "$work/gpu-discovery.sh" || { say "cannot copy $discovery to $work"; return 1; }
  discovery="$work/gpu-discovery.sh"
  local all
  all="${GPUS:-$(gpu_count)}" || { say "the discovery script failed: $discovery"; return 1; }
  say "discovery script reports: $("$discovery")"
  if [ "$all" -lt 1 ]; then say "no GPU found by $discovery"; return 1; fi
  if [ "$backend" = cuda ] && [ ! -d "$model" ]; then say "no model at $model: run '$0 model' first"; return 1; fi
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv > "$out/nvidia-smi.csv" 2>&1
  python3 - "$clips" > "$work/prompts.jsonl" <<'EOF'
import json, sys
scenes = ["waves breaking on black volcanic rocks", "a red fox running through fresh snow", "city traffic at night, long exposure",
          "a hot air balloon over a desert canyon", "rain on a window, city lights behind", "a hummingbird at a feeder, slow motion",
          "clouds rolling over a mountain ridge", "a paper boat drifting down a gutter", "fireworks over a harbour",
          "a cat watching goldfish in a bowl", "autumn leaves falling in a park", "a train crossing a stone viaduct"]
for i in range(int(sys.argv[1])):
    print(json.dumps({"id": "scale-%02d" % i, "prompt": scenes[i % len(scenes)] + (" (take %d)" % (i // len(scenes)) if i >= len(scenes) else ""), "seed": i}))
EOF
  cp "$work/prompts.jsonl" "$out/"
  local status=0
  run_generate 1 || status=1
  if [ "$all" -gt 1 ]; then
    run_generate "$all" || status=1
  else
    say "one GPU only: no scaling run"
  fi
  return "$status"
}

summary() {
  python3 "$root/bench/scale_gpus_summary.py" "$out" | tee "$out/summary.txt"
}

status=0
case "$phase" in
  model) write_model || status=1 ;;
  runs) runs || status=1; summary || status=1 ;;
  summary) summary || status=1 ;;
  all) if write_model; then runs || status=1; summary || status=1; else status=1; fi ;;
esac
say "done (exit $status); raw outputs under $out"
exit "$status"
