#!/usr/bin/env bash
# Helpers shared by the tests/stack scripts (sourced by start.sh, stop.sh and
# watchdog.sh, not run on its own): process liveness, stopping processes with a
# deadline, free loopback ports, printing a log's tail.
set -euo pipefail

# fs_alive PID: true while PID exists and is not a zombie.
fs_alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ -n "$stat" && "${stat:0:1}" != Z ]]
}

# fs_cmdline PID: the process's command line, arguments separated by spaces.
fs_cmdline() {
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
}

# fs_stop_pids SECONDS PID...: SIGTERM each live PID, wait up to SECONDS for all
# of them to end, then SIGKILL whatever is left. Reaps them when they are our
# children.
fs_stop_pids() {
  local secs=$1 pid deadline left left2
  shift
  local pids=()
  for pid in "$@"; do
    [[ "$pid" =~ ^[0-9]+$ ]] && fs_alive "$pid" && pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  deadline=$((SECONDS + secs))
  while :; do
    left=()
    for pid in "${pids[@]}"; do fs_alive "$pid" && left+=("$pid"); done
    ((${#left[@]})) || break
    if ((SECONDS >= deadline)); then
      echo "stack: pids ${left[*]} still running after ${secs}s, sending SIGKILL" >&2
      kill -KILL "${left[@]}" 2>/dev/null || true
      deadline=$((SECONDS + 5))
      while ((SECONDS < deadline)); do
        left2=()
        for pid in "${left[@]}"; do fs_alive "$pid" && left2+=("$pid"); done
        ((${#left2[@]})) || break
        sleep 0.1
      done
      break
    fi
    sleep 0.1
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

# fs_port_free PORT: true when nothing on this machine uses the TCP port.
fs_port_free() {
  local p=$1
  if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then return 1; fi
  if command -v ss >/dev/null 2>&1 && [[ -n "$(ss -Htan "sport = :$p" 2>/dev/null)" ]]; then
    return 1
  fi
  return 0
}

# fs_pick_port: sets REPLY to a free TCP port in 20000-60000 that this shell has
# not handed out before.
declare -A FS_PORTS_TAKEN=()
fs_pick_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + ((RANDOM << 15) | RANDOM) % 40001))
    [[ -n "${FS_PORTS_TAKEN[$p]:-}" ]] && continue
    if fs_port_free "$p"; then
      FS_PORTS_TAKEN[$p]=1
      REPLY=$p
      return 0
    fi
  done
  echo "stack: found no free port in 20000-60000" >&2
  return 1
}

# fs_tail_log NAME FILE: print the last 50 lines of FILE to stderr.
fs_tail_log() {
  echo "----- last 50 lines of the $1 log ($2) -----" >&2
  tail -n 50 "$2" >&2 2>/dev/null || echo "(no log)" >&2
  echo "----- end of the $1 log -----" >&2
}

# fs_now: microseconds since the epoch. fs_since START: seconds since START
# (from fs_now) with one decimal, e.g. "3.4".
fs_now() { echo "${EPOCHREALTIME/[.,]/}"; }
fs_since() {
  local d=$(($(fs_now) - $1))
  printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}
