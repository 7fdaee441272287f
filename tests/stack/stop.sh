#!/usr/bin/env bash
# Stops the integration-test stack that tests/stack/start.sh started in RUNDIR:
# SIGTERM to the Kafka broker and redis-server (and the watchdog), up to 30 s
# for them to end, then SIGKILL; then removes RUNDIR. Safe to run twice, and on
# a RUNDIR whose start failed or never happened.
#   usage: tests/stack/stop.sh RUNDIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

if (($# != 1)); then
  echo "usage: $0 RUNDIR" >&2
  exit 2
fi
[[ -d "$1" ]] || exit 0
rundir="$(cd "$1" && pwd -P)"
trap '' INT HUP # a second Ctrl-C must not cut the cleanup short

# pid_of NAME PATTERN: the pid in RUNDIR/NAME.pid if that process is alive and
# its command line contains PATTERN (so a reused pid is never killed).
pid_of() {
  local f="$rundir/$1.pid" pid
  [[ -r "$f" ]] || return 0
  pid="$(cat "$f" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  fs_alive "$pid" || return 0
  [[ "$(fs_cmdline "$pid")" == *"$2"* ]] || return 0
  echo "$pid"
}

pids=()
# The watchdog first, unless it is the one running this script.
w="$(pid_of watchdog "watchdog.sh")"
[[ -n "$w" && "$w" != "$PPID" && "$w" != "$$" ]] && pids+=("$w")
k="$(pid_of kafka "$rundir/kafka/server.properties")"
[[ -n "$k" ]] && pids+=("$k")
r="$(pid_of redis redis-server)"
[[ -n "$r" ]] && pids+=("$r")

if ((${#pids[@]})); then
  fs_stop_pids 30 "${pids[@]}"
fi

if [[ -e "$rundir/.foreshock-stack" || -z "$(ls -A "$rundir")" ]]; then
  rm -rf "$rundir"
else
  echo "stop.sh: $rundir was not made by start.sh; not removing it" >&2
fi
