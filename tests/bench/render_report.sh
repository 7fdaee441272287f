#!/usr/bin/env bash
# Renders a `foreshock-bench report` page in headless Chromium and checks that a
# browser shows its charts: a small workload (gen), a 2x2 tune, a report of one
# point, then a screenshot and the DOM after layout.
#   usage: tests/bench/render_report.sh FORESHOCK_BENCH
# Checks: the screenshot is a 1200x2000 PNG and far larger than that of a blank
# page of the same size (a page of text and charts compresses much worse than
# white); the rendered DOM holds one <svg> per incident plus the histogram and
# the scatter, with the ratio lines, the shaded windows and the front's points.
# Without chromium it exits 77 (skipped), unless CI=true, where it fails.
# RENDER_REPORT_KEEP=DIR copies the page and the screenshot there, to look at.
set -euo pipefail

bench=${1:?usage: render_report.sh FORESHOCK_BENCH}
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$browser" ]]; then
  if [[ "${CI:-}" == true ]]; then
    echo "render_report: chromium is not installed (tests/stack/deps.sh installs it)" >&2
    exit 1
  fi
  echo "render_report: chromium is not installed; skipped" >&2
  exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/render_report.XXXXXX")
trap 'rm -rf "$dir"' EXIT

fail() {
  echo "render_report: FAILED: $*" >&2
  exit 1
}

# Runs the browser on file $1 with the extra flags that follow, a fresh
# profile each time, nothing fetched or synced; its chatter goes to a log.
render() {
  local page=$1
  shift
  local profile
  profile=$(mktemp -d "$dir/profile.XXXXXX")
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --hide-scrollbars --user-data-dir="$profile" \
    --window-size=1200,2000 "$@" "file://$page" 2>>"$dir/browser.log"
}

# The workload: 12 minutes, two incidents; every key at its default.
echo "# defaults" >"$dir/tune.conf"
"$bench" gen --playback "$dir/p.ndjson" --errors "$dir/e.ndjson" --truth "$dir/t.ndjson" \
  --rate 200 --duration 12m --seed 7 \
  --incident 'country=US@6m-7m*6' --incident 'country=BR,platform=android@9m-10m*10' 2>/dev/null
"$bench" tune -c "$dir/tune.conf" --playback "$dir/p.ndjson" --errors "$dir/e.ndjson" \
  --truth "$dir/t.ndjson" --out "$dir/r.csv" --alerts-dir "$dir/points" --jobs 2 \
  --sweep detect.min_excess=5,40 --sweep detect.false_alarms_per_day=1,1000 >/dev/null 2>&1 ||
  fail "tune failed"
"$bench" report --truth "$dir/t.ndjson" --alerts "$dir/points/point-1.ndjson" \
  --playback "$dir/p.ndjson" --errors "$dir/e.ndjson" --tune "$dir/r.csv" \
  --out "$dir/report.html" || fail "report failed"
printf '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body></body></html>\n' \
  >"$dir/blank.html"

render "$dir/report.html" --screenshot="$dir/report.png" >/dev/null ||
  fail "chromium could not take the screenshot (see below)"$'\n'"$(tail -20 "$dir/browser.log")"
render "$dir/blank.html" --screenshot="$dir/blank.png" >/dev/null || fail "blank screenshot"
render "$dir/report.html" --dump-dom >"$dir/dom.html" || fail "chromium could not dump the DOM"
if [[ -n "${RENDER_REPORT_KEEP:-}" ]]; then
  mkdir -p "$RENDER_REPORT_KEEP"
  cp "$dir/report.html" "$dir/report.png" "$dir/dom.html" "$RENDER_REPORT_KEEP/"
fi

# The PNG: signature, then the IHDR chunk's width and height (big-endian).
[[ -s "$dir/report.png" ]] || fail "no screenshot written"
signature=$(od -An -tx1 -N8 "$dir/report.png" | tr -d ' \n')
[[ "$signature" == 89504e470d0a1a0a ]] || fail "report.png is not a PNG ($signature)"
size=$(od -An -tu1 -j16 -N8 "$dir/report.png" | tr -s ' ' | sed 's/^ //')
read -r w1 w2 w3 w4 h1 h2 h3 h4 <<<"$size"
width=$(((w1 << 24) | (w2 << 16) | (w3 << 8) | w4))
height=$(((h1 << 24) | (h2 << 16) | (h3 << 8) | h4))
((width == 1200 && height == 2000)) || fail "screenshot is ${width}x${height}, not 1200x2000"
bytes=$(stat -c %s "$dir/report.png")
blank=$(stat -c %s "$dir/blank.png")
((bytes > 10 * blank && bytes > 50000)) ||
  fail "screenshot looks blank: $bytes bytes, a blank page gives $blank"

# The DOM as the browser built it: 2 incidents + histogram + scatter.
svgs=$(grep -o '<svg' "$dir/dom.html" | wc -l)
((svgs == 4)) || fail "$svgs <svg> elements in the rendered DOM, expected 4"
for needle in 'id="delay-histogram"' 'id="pareto"' 'id="incident-1"' 'id="incident-2"' \
  '<polyline' '<circle' 'fill="#fde2e2"'; do
  grep -q -- "$needle" "$dir/dom.html" || fail "rendered DOM lacks $needle"
done

echo "render_report: ok: ${width}x${height} screenshot of $bytes bytes (blank page: $blank)," \
  "$svgs charts in the rendered DOM"
