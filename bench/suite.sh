#!/usr/bin/env bash
# bench/suite.sh: the standard benchmark suite. Each bench/scenarios/*.scenario
# is generated, replayed with config/foreshock.conf and scored; prints one
# markdown row per scenario and a total row, as in the README's results table.
#
# A scenario file has one setting a line (`#` starts a comment):
#   rate N | duration D | seed N             the workload (gen --rate ...)
#   incident SPEC | decoy SPEC               gen --incident / --decoy, repeatable
#   duplicates S | disorder S | late S | missing S | lateness D | no-noise
#                                            delivery noise (gen's defaults otherwise)
#
# Columns: recall and precision (score's definitions), false alerts per
# simulated day, median and p95 detection delay over the detected incidents
# (interpolated between order statistics, as `tune` does), the median of
# detector delay / oracle delay, the share of detected incidents whose alert
# names the incident's slice exactly, decoys paged, and replay throughput.
# The total row pools the incidents, alerts, spans and replay time of every
# scenario.
#   usage: bench/suite.sh [-X key=value]...     (options go to replay)
#   FORESHOCK_BUILD=DIR selects the build directory (default: build);
#   FORESHOCK_SUITE_OUT=DIR keeps each scenario's truth, alerts and score JSON there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
build="${FORESHOCK_BUILD:-$root/build}"
"$root/tests/stack/deps.sh" --no-kafka
cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" -j2 --target foreshock-bench >/dev/null
bench="$build/bench/foreshock-bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="${FORESHOCK_SUITE_OUT:-$work/scores}"
mkdir -p "$out"

for file in "$root"/bench/scenarios/*.scenario; do
  name=$(basename "$file" .scenario)
  args=(--playback "$work/p.ndjson" --errors "$work/e.ndjson" --truth "$work/t.ndjson")
  while read -r key value; do
    case "$key" in
    rate | duration | seed | incident | decoy | duplicates | disorder | late | missing | lateness)
      args+=("--$key" "$value") ;;
    no-noise) args+=(--no-noise) ;;
    "" | "#"*) ;;
    *) echo "suite.sh: $file: unknown line '$key'" >&2; exit 1 ;;
    esac
  done <"$file"
  : >"$work/t.ndjson"
  "$bench" gen "${args[@]}" 2>/dev/null
  line=$("$bench" replay -c "$root/config/foreshock.conf" --playback "$work/p.ndjson" \
    --errors "$work/e.ndjson" --alerts "$work/a.ndjson" "$@" 2>&1 | grep '^replay: [0-9]* events')
  events=$(sed -n 's/^replay: \([0-9]*\) events in .*/\1/p' <<<"$line")
  elapsed=$(sed -n 's/^replay: [0-9]* events in \([0-9.]*\) s.*/\1/p' <<<"$line")
  "$bench" score --truth "$work/t.ndjson" --alerts "$work/a.ndjson" \
    --playback "$work/p.ndjson" --errors "$work/e.ndjson" --json "$work/s.json" >/dev/null
  jq --arg name "$name" --argjson events "$events" --argjson elapsed "$elapsed" \
    '. + {name: $name, events: $events, elapsed: $elapsed}' "$work/s.json" >"$out/$name.json"
  if [ -n "${FORESHOCK_SUITE_OUT:-}" ]; then
    cp "$work/t.ndjson" "$out/$name.truth.ndjson"
    cp "$work/a.ndjson" "$out/$name.alerts.ndjson"
  fi
done

echo "| scenario | incidents | recall | precision | false alerts/day | median delay | p95 delay | delay/oracle | localization | decoys paged | replay events/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
jq -r -s '
  def fmt(d): if . == null then "-" else (. * pow(10; d) | round) as $x
    | if d == 0 then "\($x)"
      else "\($x / pow(10; d) | floor).\($x % pow(10; d) + pow(10; d) | tostring | .[1:])"
      end end;
  def secs: if . == null then "-" else "\(round) s" end;
  def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def p95: sort | if length == 0 then null
    else ((length - 1) * 0.95) as $h | ($h | floor) as $i
    | .[$i] + ($h - $i) * ((.[$i + 1] // .[$i]) - .[$i]) end;
  def ratio(a; b): if b == 0 then null else a / b end;
  def row(name; runs):
    (runs | map(.incidents[]) | map(select(.detected))) as $hit
    | (runs | map(.summary)) as $s
    | ($s | map(.incidents) | add) as $n
    | ($s | map(.firing_alerts) | add) as $alerts
    | ($s | map(.false_alerts) | add) as $false
    | ($s | map(.decoys) | add) as $decoys
    | "| \(name) | \($n) | \(ratio($hit | length; $n) | fmt(2))"
      + " | \(ratio($s | map(.matching_alerts) | add; $alerts) | fmt(2))"
      + " | \(ratio($false; runs | map(.span.days) | add) | fmt(1))"
      + " | \($hit | map(.delay_seconds) | median | secs)"
      + " | \($hit | map(.delay_seconds) | p95 | secs)"
      + " | \($hit | map(.delay_ratio | select(. != null)) | median | fmt(2))"
      + " | \(ratio($hit | map(select(.relation == "same")) | length; $hit | length) | fmt(2))"
      + " | \(if $decoys == 0 then "-" else "\($s | map(.decoys_paged) | add)/\($decoys)" end)"
      + " | \(ratio(runs | map(.events) | add; runs | map(.elapsed) | add) | fmt(0))" + " |";
  (.[] | row(.name; [.])), row("**total**"; .)' "$out"/*.json
