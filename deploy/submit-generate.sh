#!/usr/bin/env bash
# Submits the nightly generate job with spark-submit.
#   deploy/submit-generate.sh standalone|yarn|k8s PROMPTS OUT [generate flags...]
# Environment: SPARK_HOME (Spark 4.2.0, Scala 2.13), SPARSE_RENDER_JAR (the -spark.jar from `mvn package`),
# MASTER (spark://host:7077 or k8s://https://api:6443; not for yarn), EXECUTORS (default 8),
# K8S_IMAGE (k8s: an image with Spark, the NVIDIA driver libraries and the jar), MODEL (a diffusers repo:
# an s3a:// or hdfs:// URI, staged to each executor host's disk once, or a local path present on every
# executor), PROPERTIES (default conf/spark-defaults.conf.template), EXECUTOR_OVERHEAD (host memory beyond the
# heap that YARN and Kubernetes must allow each executor: the pinned host copies of the text encoder, and for
# A14B of both experts; default 16g for the 5B and 1.3B models, give 72g for A14B; docs/OPERATIONS.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${1:?usage: $0 standalone|yarn|k8s PROMPTS OUT [generate flags...]}"
prompts="${2:?missing PROMPTS}"
out="${3:?missing OUT}"
shift 3
: "${SPARK_HOME:?set SPARK_HOME to a Spark 4.2.0 (Scala 2.13) installation}"
jar="${SPARSE_RENDER_JAR:-$here/target/sparse-render-0.1.0-SNAPSHOT-spark.jar}"
[ -f "$jar" ] || { echo "no application jar at $jar (mvn -B -DskipTests package)" >&2; exit 1; }
props="${PROPERTIES:-$here/conf/spark-defaults.conf.template}"
common=(--class io.sparserender.jobs.Main --properties-file "$props"
        --num-executors "${EXECUTORS:-8}" --driver-memory 8g --executor-memory 48g
        --conf spark.executor.memoryOverhead="${EXECUTOR_OVERHEAD:-16g}"
        --conf spark.executor.resource.gpu.discoveryScript="$here/deploy/gpu-discovery.sh")
case "$mode" in
  standalone) target=(--master "${MASTER:?set MASTER=spark://host:7077}" --deploy-mode client) ;;
  yarn)       target=(--master yarn --deploy-mode cluster) ;;
  k8s)        target=(--master "${MASTER:?set MASTER=k8s://https://api:6443}" --deploy-mode cluster
                      --conf spark.kubernetes.container.image="${K8S_IMAGE:?set K8S_IMAGE}"
                      --conf spark.kubernetes.executor.podTemplateFile="$here/deploy/kubernetes/executor-pod-template.yaml"
                      --conf spark.executor.resource.gpu.vendor=nvidia.com) ;;
  *) echo "unknown mode '$mode': standalone, yarn or k8s" >&2; exit 2 ;;
esac
exec "$SPARK_HOME/bin/spark-submit" "${target[@]}" "${common[@]}" "$jar" \
  generate --prompts "$prompts" --out "$out" --model "${MODEL:?set MODEL to the model folder (s3a://... or a path on every executor)}" \
  --backend cuda "$@"
