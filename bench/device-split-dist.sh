#!/usr/bin/env bash
# device-split-dist.sh: the full local distribution (a jlink runtime of the whole JDK + target/dist/lib without
# RocksDB, which nothing of ours loads) as ~48 MiB parts under .device/sp/pNN/, for a device machine that
# takes 64 MiB per call: carry one part per call while the machine is warm, then on the device
#   cat .device/sp/p*/spk.part.* | tar -x -C /tmp && JAVA_HOME=/tmp/spk/rt SPARSE_RENDER_LIB=/tmp/spk/lib bin/sparse-render ...
# Needs `mvn -B -DskipTests package` first. (docs/BENCHMARKS.md, "Spark on the GPU", was run this way.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/spk/lib"
for j in target/dist/lib/*.jar; do case $(basename "$j") in rocksdbjni-*) ;; *) cp "$j" "$tmp/spk/lib/";; esac; done
zip -q -d "$tmp"/spk/lib/tokenizers-*.jar 'native/lib/win-*' 'native/lib/osx-*' 'native/lib/linux-aarch64/*' || true
jdk="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
mods=$("$jdk/bin/java" --list-modules | cut -d@ -f1 | grep -v -E '^jdk\.(hotspot\.agent|jcmd|jconsole|jdeps|jdi|jshell|javadoc|compiler|jlink|jpackage|jartool|internal\.(ed|le|opt)|editpad|jstatd|random)' | paste -sd,)
"$jdk/bin/jlink" --add-modules "$mods" --strip-debug --no-header-files --no-man-pages --compress=2 --output "$tmp/spk/rt" 2>/dev/null
rm -rf .device/sp && mkdir -p .device/sp
tar -cf - -C "$tmp" spk | split -b 48M -d - "$tmp/spk.part."
for p in "$tmp"/spk.part.*; do n=${p##*.}; mkdir -p ".device/sp/p$n"; mv "$p" ".device/sp/p$n/"; done
du -sh .device/sp/*
