#!/usr/bin/env bash
# bench/suite.sh: the standard benchmark suite. Each bench/scenarios/*.scenario
# (lines `rate N`, `duration D`, `seed N`, `incident SPEC`...) is generated,
# replayed with config/foreshock.conf and scored; prints one markdown row per
# scenario and a total, as in the README's results table.
#   usage: bench/suite.sh [-X key=value]...     (options go to replay)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
"$root/tests/stack/deps.sh" --no-kafka
cmake -S "$root" -B "$root/build" >/dev/null
cmake --build "$root/build" -j2 --target foreshock-bench >/dev/null
bench="$root/build/bench/foreshock-bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "| scenario | incidents | detected | alerts | false alerts | delay | oracle delay | slice | replay events/s |"
echo "|---|---|---|---|---|---|---|---|---|"
for file in "$root"/bench/scenarios/*.scenario; do
  name=$(basename "$file" .scenario)
  args=(--playback "$work/p.ndjson" --errors "$work/e.ndjson" --truth "$work/t.ndjson")
  while read -r key value; do
    case "$key" in
    rate) args+=(--rate "$value") ;;
    duration) args+=(--duration "$value") ;;
    seed) args+=(--seed "$value") ;;
    incident) args+=(--incident "$value") ;;
    "" | "#"*) ;;
    *) echo "suite.sh: $file: unknown line '$key'" >&2; exit 1 ;;
    esac
  done <"$file"
  : >"$work/t.ndjson"
  "$bench" gen "${args[@]}" 2>/dev/null
  rate=$("$bench" replay -c "$root/config/foreshock.conf" --playback "$work/p.ndjson" \
    --errors "$work/e.ndjson" --alerts "$work/a.ndjson" "$@" 2>&1 |
    sed -n 's/.*(\([0-9]*\) events\/s).*/\1/p')
  "$bench" score --truth "$work/t.ndjson" --alerts "$work/a.ndjson" \
    --playback "$work/p.ndjson" --errors "$work/e.ndjson" --json "$work/s.json" >/dev/null 2>&1
  jq -r --arg name "$name" --arg rate "$rate" '
    def secs: if . == null then "-" else "\(. | round) s" end;
    (.incidents | map(select(.detected)) | .[0]) as $first
    | "| \($name) | \(.summary.incidents) | \(.summary.detected) | \(.summary.firing_alerts) |"
      + " \(.summary.false_alerts) | \($first.delay_seconds | secs) |"
      + " \($first.oracle.delay_seconds | secs) | \($first.relation // "-") | \($rate) |"' \
    "$work/s.json"
done
