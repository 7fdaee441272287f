#!/usr/bin/env bash
# Fetches the Apache Kafka 4.1.1 broker jars (tests/stack/kafka-pom.xml) from
# Maven Central once into a cache folder outside the source tree, and prints
# that folder's path on stdout (only that). A no-op when the cache is complete.
# Cache: ${FORESHOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/foreshock}/kafka-4.1.1/libs
# The jars are fetched into a temporary folder beside it that is renamed into
# place only when complete, so an interrupted fetch is never taken as done.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
pom="$here/kafka-pom.xml"
kafka_version=4.1.1
cache="${FORESHOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/foreshock}"
base="$cache/kafka-$kafka_version"
libs="$base/libs"
marker=.foreshock-complete
pom_sum="$(sha256sum "$pom" | cut -d' ' -f1)"

# Complete when the marker is there and was written for this very pom.
if [[ -f "$libs/$marker" && "$(cat "$libs/$marker")" == "$pom_sum" ]]; then
  echo "$libs"
  exit 0
fi

mkdir -p "$base"
# Leftovers of fetches that were killed long ago.
find "$base" -maxdepth 1 -name 'libs.tmp.*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true

tmp="$(mktemp -d "$base/libs.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "kafka-fetch.sh: fetching Kafka $kafka_version jars into $libs" >&2
# Run Maven on a copy of the pom so that nothing is written into the source tree.
mkdir "$tmp/pom" "$tmp/libs"
cp "$pom" "$tmp/pom/pom.xml"
mvn -B -q -Dstyle.color=never -f "$tmp/pom/pom.xml" \
  dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$tmp/libs" 2>&1 \
  | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2
[[ -f "$tmp/libs/kafka_2.13-$kafka_version.jar" ]] || { echo "kafka-fetch.sh: Maven fetched no kafka_2.13 jar" >&2; exit 1; }
echo "$pom_sum" >"$tmp/libs/$marker"

# Move into place. mv -T never moves into an existing folder; if another fetch
# won the race with the same pom, keep its folder.
if [[ -e "$libs" ]]; then
  if [[ -f "$libs/$marker" && "$(cat "$libs/$marker")" == "$pom_sum" ]]; then
    echo "$libs"
    exit 0
  fi
  old="$(mktemp -d "$base/libs.tmp.XXXXXX")"
  mv -T "$libs" "$old/libs" 2>/dev/null || true
  rm -rf "$old"
fi
if ! mv -T "$tmp/libs" "$libs" 2>/dev/null; then
  [[ -f "$libs/$marker" && "$(cat "$libs/$marker")" == "$pom_sum" ]] \
    || { echo "kafka-fetch.sh: could not move the jars into $libs" >&2; exit 1; }
fi
echo "$libs"
