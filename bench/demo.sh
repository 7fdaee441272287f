#!/usr/bin/env bash
# bench/demo.sh: watch foreshock catch a regional outage, live.
#
# On a fresh machine it installs what is missing (Debian packages; no Kafka
# needed), builds, starts a private redis-server and `foreshock
# --embedded-kafka` (an in-process Kafka on a loopback port), generates 40
# minutes of playback traffic with a failure burst in one country x platform,
# streams it at 60x speed and shows the alerts as they fire and resolve, then
# scores them against the injected incident and writes an HTML report.
#   usage: bench/demo.sh [SPEED]        (default 60: 40 min of traffic in ~40 s)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
speed=${1:-60}
# shellcheck source=../tests/stack/lib.sh
source "$root/tests/stack/lib.sh"

echo "demo: checking packages and building (first run takes a minute)..." >&2
"$root/tests/stack/deps.sh" --no-kafka
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target foreshock foreshock-bench >/dev/null

work=$(mktemp -d /tmp/foreshock-demo.XXXXXX)
redis_pid=""
daemon_pid=""
cleanup() {
  trap '' INT TERM
  [[ -n "$daemon_pid" ]] && fs_stop_pids 10 "$daemon_pid"
  [[ -n "$redis_pid" ]] && fs_stop_pids 10 "$redis_pid"
  echo "demo: logs and data kept in $work" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fs_pick_port
redis_port=$REPLY
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$work" --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done

bench="$root/build/bench/foreshock-bench"
incident='country=BR,platform=android@25m-28m*8'
"$bench" gen --playback "$work/playback.ndjson" --errors "$work/errors.ndjson" \
  --truth "$work/truth.ndjson" --rate 500 --duration 40m --start ago:0s \
  --incident "$incident" 2>"$work/gen.log"
echo "demo: $(cat "$work/gen.log" | sed 's/^gen: //'), with a burst: $incident" >&2

"$root/build/detector/foreshock" -c "$root/bench/demo.conf" --embedded-kafka \
  -X "redis.address=127.0.0.1:$redis_port" 2>"$work/foreshock.log" &
daemon_pid=$!
bootstrap=""
for _ in $(seq 100); do
  bootstrap=$(sed -n 's/.*event=embedded_kafka bootstrap=\([^ ]*\).*/\1/p' "$work/foreshock.log")
  [[ -n "$bootstrap" ]] && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/foreshock.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$bootstrap" ]] || { echo "demo: foreshock did not start" >&2; exit 1; }
echo "demo: foreshock is running with an embedded Kafka at $bootstrap; streaming at ${speed}x" >&2
echo >&2

"$bench" stream -b "$bootstrap" --playback "$work/playback.ndjson" \
  --errors "$work/errors.ndjson" --truth "$work/truth.ndjson" --speed "$speed" --grace 8 \
  --alerts "$work/alerts.ndjson"

echo
"$bench" score --truth "$work/truth.ndjson" --alerts "$work/alerts.ndjson" \
  --playback "$work/playback.ndjson" --errors "$work/errors.ndjson" 2>&1 |
  sed -n '/^summary/,$p;/^incident/,/oracle/p'
"$bench" report --truth "$work/truth.ndjson" --alerts "$work/alerts.ndjson" \
  --playback "$work/playback.ndjson" --errors "$work/errors.ndjson" \
  --out "$work/report.html" >/dev/null 2>&1 &&
  echo "demo: HTML report: $work/report.html"
