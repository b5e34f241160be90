#!/usr/bin/env bash
# build-gpu-bundle.sh: a self-contained GPU-host bundle for hosts and container images that have the
# NVIDIA driver but no JDK: a jlink'd Java 17 runtime plus the engine's jars (no Spark, no Hadoop).
#
#   mvn -B -DskipTests package                      # builds target/ (with nvcc for the kernels)
#   deploy/build-gpu-bundle.sh [--with-tests] OUT   # writes OUT/ (about 45 MB; 60 MB at most)
#
# OUT/bin/sparse-render runs the CLI (doctor, bench gemm, ...) on the bundled runtime.
# With --with-tests the bundle also holds the test classes, JUnit's console launcher and AssertJ, and
# OUT/bin/gpu-tests runs every test tagged `gpu` and prints one summary line (docs/OPERATIONS.md).
# Needs: a JDK 17 with jlink and jar (JAVA_HOME or the one on the PATH); nothing else.
set -euo pipefail
with_tests=0
if [ "${1:-}" = "--with-tests" ]; then with_tests=1; shift; fi
out="${1:?usage: build-gpu-bundle.sh [--with-tests] OUT_DIR}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$root/target"
dist="$target/dist/lib"
limit_mb="${SPARSE_RENDER_BUNDLE_LIMIT_MB:-60}"

if [ -n "${JAVA_HOME:-}" ]; then jdk="$JAVA_HOME"; else jdk="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"; fi
[ -x "$jdk/bin/jlink" ] || { echo "build-gpu-bundle: no jlink in $jdk (set JAVA_HOME to a JDK 17)" >&2; exit 1; }
[ -f "$dist/sparse-render.jar" ] || { echo "build-gpu-bundle: no build in $dist; run: mvn -B -DskipTests package" >&2; exit 1; }
"$jdk/bin/jar" tf "$dist/sparse-render.jar" | grep -q 'engine/gpu/kernels.fatbin' \
  || echo "build-gpu-bundle: warning: the jar has no CUDA kernels (nvcc was not on the PATH at build time)" >&2

rm -rf "$out"
mkdir -p "$out/lib" "$out/bin" "$out/conf"
out="$(cd "$out" && pwd)"

# 1. The Java runtime: only the modules the engine, Jackson, picocli and JUnit need, and Flight Recorder (jdk.jfr) to profile on the device.
modules=java.base,java.logging,java.management,java.naming,java.sql,java.xml,jdk.unsupported,jdk.jfr
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress=2 \
  --output "$out/runtime"

# 2. The engine's jars: ours, JCuda (driver natives only), Jackson, SLF4J, picocli. Never Spark/Hadoop.
cp "$dist/sparse-render.jar" "$out/lib/"
for pattern in 'jcuda-[0-9]*.jar' 'jackson-core-*.jar' 'jackson-databind-*.jar' 'jackson-annotations-*.jar' \
               'slf4j-api-*.jar' 'picocli-*.jar'; do
  # shellcheck disable=SC2086
  found=$(cd "$dist" && ls $pattern 2>/dev/null | head -1 || true)
  [ -n "$found" ] || { echo "build-gpu-bundle: no $pattern in $dist" >&2; exit 1; }
  cp "$dist/$found" "$out/lib/"
done
# jcuda-natives carries nvPTXCompiler, nvrtc and the runtime binding (25 MB); the engine loads only
# libJCudaDriver, so the bundle repacks that one.
natives=$(cd "$dist" && ls jcuda-natives-*.jar | head -1)
tmp="$(mktemp -d)"
driver_lib=$("$jdk/bin/jar" tf "$dist/$natives" | grep '^lib/libJCudaDriver-' | head -1)
[ -n "$driver_lib" ] || { echo "build-gpu-bundle: no libJCudaDriver in $natives" >&2; exit 1; }
(cd "$tmp" && "$jdk/bin/jar" xf "$dist/$natives" "$driver_lib" && "$jdk/bin/jar" cf "$out/lib/${natives%.jar}-driver-only.jar" lib)
rm -rf "$tmp"
cp "$root/conf/log4j2.properties" "$out/conf/" 2>/dev/null || true

cat > "$out/bin/sparse-render" <<'SH'
#!/usr/bin/env bash
# The sparse-render CLI on the bundled Java runtime (engine commands: doctor, bench gemm, ...).
# SPARSE_RENDER_EXTRA_CP: more jars (FFmpeg, tokenizers) for the commands that write videos (bench generate).
home="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$home/runtime/bin/java" ${SPARSE_RENDER_JAVA_OPTS:--Xmx8g} -cp "$home/lib/*${SPARSE_RENDER_EXTRA_CP:+:$SPARSE_RENDER_EXTRA_CP}" io.sparserender.jobs.Main "$@"
SH
chmod +x "$out/bin/sparse-render"

if [ "$with_tests" = 1 ]; then
  [ -d "$target/test-classes" ] || { echo "build-gpu-bundle: no $target/test-classes; run mvn test-compile" >&2; exit 1; }
  [ -d "$target/bundle-test-lib" ] || { echo "build-gpu-bundle: no $target/bundle-test-lib; run mvn package" >&2; exit 1; }
  mkdir -p "$out/test-lib"
  cp -r "$target/test-classes" "$out/test-lib/classes"   # a folder: the launcher's class-path scan reads folders
  cp "$target"/bundle-test-lib/*.jar "$out/test-lib/"
  cat > "$out/bin/gpu-tests" <<'SH'
#!/usr/bin/env bash
# Runs every test tagged `gpu` on this host's device with JUnit's console launcher; a missing device
# fails them (sparserender.gpu.tests=require) instead of skipping. Last line: the summary.
# SPARSE_RENDER_EXTRA_CP: more jars for the tests that render whole clips (FFmpeg, tokenizers; not bundled).
home="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log="$(mktemp)"
"$home/runtime/bin/java" -Xmx16g -Dsparserender.gpu.tests=require ${SPARSE_RENDER_JAVA_OPTS:-} \
  -jar "$home"/test-lib/junit-platform-console-standalone-*.jar execute \
  --class-path "$home/test-lib/classes:$(ls "$home"/test-lib/assertj-core-*.jar):$(printf '%s:' "$home"/lib/*.jar)${SPARSE_RENDER_EXTRA_CP:+:$SPARSE_RENDER_EXTRA_CP}" \
  --scan-class-path "$home/test-lib/classes" --include-tag gpu \
  --details "${SPARSE_RENDER_TEST_DETAILS:-tree}" --disable-banner "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
ok=$(grep -Eo '\[ *[0-9]+ tests successful *\]' "$log" | grep -Eo '[0-9]+' | head -1)
failed=$(grep -Eo '\[ *[0-9]+ tests failed *\]' "$log" | grep -Eo '[0-9]+' | head -1)
skipped=$(grep -Eo '\[ *[0-9]+ tests skipped *\]' "$log" | grep -Eo '[0-9]+' | head -1)
aborted=$(grep -Eo '\[ *[0-9]+ tests aborted *\]' "$log" | grep -Eo '[0-9]+' | head -1)
cfailed=$(grep -Eo '\[ *[0-9]+ containers failed *\]' "$log" | grep -Eo '[0-9]+' | head -1)
echo "gpu tests: ${ok:-0} passed, ${failed:-?} failed, ${skipped:-0} skipped, ${aborted:-0} aborted, ${cfailed:-?} classes failed (exit $rc)"
rm -f "$log"
exit "$rc"
SH
  chmod +x "$out/bin/gpu-tests"
fi

size_mb=$(du -sm "$out" | cut -f1)
echo "build-gpu-bundle: $out: ${size_mb} MB (runtime $(du -sm "$out/runtime" | cut -f1) MB, lib $(du -sm "$out/lib" | cut -f1) MB)"
if [ "$with_tests" = 0 ] && [ "$size_mb" -gt "$limit_mb" ]; then
  echo "build-gpu-bundle: the bundle is ${size_mb} MB, over its ${limit_mb} MB budget" >&2
  exit 1
fi
