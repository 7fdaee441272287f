#!/usr/bin/env bash
# Measures foreshock end to end against a real Kafka broker and redis-server,
# next to `kcat -C` reading the same topics in the same run, and prints both
# rates, their ratio and the Redis round trips per event.
#   usage: bench/kafka-throughput.sh [EVENTS_PER_S_OF_WORKLOAD] [DURATION]
# Defaults: 2000 events/s of event time for 30m (about 3.9 M events).
# With FORESHOCK_TEST_KAFKA and FORESHOCK_TEST_REDIS set, those services are
# used; otherwise tests/stack starts private ones and stops them at the end.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
rate=${1:-2000}
duration=${2:-30m}
"$root/tests/stack/deps.sh"
cmake -S "$root" -B "$root/build" >/dev/null
cmake --build "$root/build" -j2 --target foreshock foreshock-bench >/dev/null

work=$(mktemp -d)
rundir=""
daemon_pid=""
cleanup() {
  [[ -n "$daemon_pid" ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [[ -n "$rundir" ]] && "$root/tests/stack/stop.sh" "$rundir"
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [[ -z "${FORESHOCK_TEST_KAFKA:-}" || -z "${FORESHOCK_TEST_REDIS:-}" ]]; then
  "$root/tests/stack/kafka-fetch.sh" >/dev/null
  rundir=$(mktemp -d)
  rmdir "$rundir"
  "$root/tests/stack/start.sh" "$rundir" >/dev/null
  # shellcheck source=/dev/null
  source "$rundir/env"
fi
kafka=$FORESHOCK_TEST_KAFKA
redis_host=${FORESHOCK_TEST_REDIS%:*}
redis_port=${FORESHOCK_TEST_REDIS##*:}
run=bench$$_$RANDOM
plays=$run-playback
errors=$run-errors

bench="$root/build/bench/foreshock-bench"
"$bench" gen --playback "$work/p.ndjson" --errors "$work/e.ndjson" --rate "$rate" \
  --duration "$duration" --start ago:10m 2>"$work/gen.log"
events=$(($(wc -l <"$work/p.ndjson") + $(wc -l <"$work/e.ndjson")))
echo "workload: $events events ($rate/s for $duration)"
kcat -P -b "$kafka" -t "$plays" -K: -l <(awk '{print NR % 97 ":" $0}' "$work/p.ndjson")
kcat -P -b "$kafka" -t "$errors" -K: -l <(awk '{print NR % 97 ":" $0}' "$work/e.ndjson")

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# kcat as a group consumer of both topics, as foreshock is.
t0=$(now_ms)
kcat -C -b "$kafka" -G "$run-kcat" -o beginning -e -q "$plays" "$errors" >/dev/null 2>&1 || true
t1=$(now_ms)
kcat_ms=$((t1 - t0))

# foreshock: done when Redis holds the last offset of every partition.
declare -A last
for topic in "$plays" "$errors"; do
  while read -r p o; do last["$topic/$p"]=$o; done \
    < <(kcat -C -b "$kafka" -t "$topic" -o -1 -e -q -f '%p %o\n')
done
cat >"$work/foreshock.conf" <<CONF
kafka.bootstrap.servers = $kafka
kafka.group.id = $run-foreshock
topics.playback = $plays
topics.errors = $errors
topics.alerts = $run-alerts
topics.deadletter = $run-deadletter
redis.address = $FORESHOCK_TEST_REDIS
redis.prefix = $run:
log.status_interval = 1s
CONF
t0=$(now_ms)
"$root/build/detector/foreshock" -c "$work/foreshock.conf" 2>"$work/foreshock.log" &
daemon_pid=$!
while :; do
  done_all=1
  for key in "${!last[@]}"; do
    stored=$(redis-cli -h "$redis_host" -p "$redis_port" HGET "$run:offsets" "$key")
    if [[ "$stored" != "${last[$key]}" ]]; then done_all=0; break; fi
  done
  ((done_all)) && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/foreshock.log"; exit 1; }
  sleep 0.05
done
t1=$(now_ms)
foreshock_ms=$((t1 - t0))
kill "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=""
trips=$(sed -n 's/.*event=stopped .*store_round_trips=\([0-9]*\).*/\1/p' "$work/foreshock.log")
grep 'event=status' "$work/foreshock.log" | tail -n 3 >&2 || true
[[ -n "${FORESHOCK_BENCH_KEEP_LOG:-}" ]] && cp "$work/foreshock.log" "$FORESHOCK_BENCH_KEEP_LOG"
redis-cli -h "$redis_host" -p "$redis_port" --scan --pattern "$run:*" |
  xargs -r redis-cli -h "$redis_host" -p "$redis_port" DEL >/dev/null

awk -v n="$events" -v k="$kcat_ms" -v f="$foreshock_ms" -v t="$trips" 'BEGIN {
  printf "kcat -C (group):  %8.0f events/s  (%d ms)\n", n / (k / 1000), k
  printf "foreshock:        %8.0f events/s  (%d ms, incl. start-up and group join)\n", n / (f / 1000), f
  printf "ratio foreshock/kcat: %.2f\n", k / f
  printf "Redis round trips of foreshock: %d (%.6f per event)\n", t, t / n
}'
