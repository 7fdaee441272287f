#!/usr/bin/env bash
# Builds foreshock and runs all its ctest suites, with a real Kafka broker and a
# real redis-server for the integration suites. What .ci/run runs.
#   usage: tests/run.sh [ctest args...]      (from any folder)
# Steps, each timed on stderr:
#   1. tests/stack/deps.sh (installs missing Debian packages; no-op otherwise)
#   2. cmake -S . -B build -DFS_WERROR=ON|OFF (ON when CI=true); cmake --build build -j2
#   3. services: if FORESHOCK_TEST_KAFKA and FORESHOCK_TEST_REDIS are BOTH already
#      set (host:port), those existing services are used and nothing is started
#      (FORESHOCK_TEST_REDIS_SERVER defaults to the redis-server on PATH).
#      Otherwise tests/stack/start.sh starts a Kafka 4.1.1 broker and a
#      redis-server on free loopback ports in a fresh mktemp -d folder and its
#      env file is sourced (FORESHOCK_TEST_KAFKA, FORESHOCK_TEST_REDIS,
#      FORESHOCK_TEST_REDIS_SERVER). They are stopped (tests/stack/stop.sh) on
#      every exit: normal, failure, Ctrl-C or SIGTERM.
#   4. ctest --test-dir build --output-on-failure -j2 [ctest args...]
# Exits with ctest's status. With CI=true a stack that cannot start fails the run;
# without it a loud warning is printed and the integration suites skip (77).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$root"
stack="$root/tests/stack"
# shellcheck source-path=SCRIPTDIR source=stack/lib.sh
source "$stack/lib.sh"

ci=0
case "${CI:-}" in true | 1) ci=1 ;; esac

t_all=$(fs_now)
phase_t=0
phase_name=""
phase() { # phase NAME: ends the running phase (prints its time), starts NAME
  if [[ -n "$phase_name" ]]; then
    echo "run.sh: [time] $phase_name: $(fs_since "$phase_t")s" >&2
  fi
  phase_name="${1:-}"
  phase_t=$(fs_now)
  if [[ -n "$phase_name" ]]; then echo "run.sh: === $phase_name ===" >&2; fi
}

warn_loud() {
  {
    echo
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!!! WARNING: $*"
    echo "!!! The integration tests will be SKIPPED (exit 77), not run."
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo
  } >&2
}

# --- the stack is stopped however this script ends ---------------------------
rundir=""
stop_stack() {
  [[ -n "$rundir" ]] || return 0
  trap '' INT HUP # a second Ctrl-C must not leave the broker running
  local t
  t=$(fs_now)
  "$stack/stop.sh" "$rundir" || echo "run.sh: stop.sh $rundir failed" >&2
  rundir=""
  echo "run.sh: [time] stop stack: $(fs_since "$t")s" >&2
}
trap stop_stack EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT
trap 'echo "run.sh: terminated" >&2; exit 143' TERM
trap 'exit 129' HUP

# --- 1. packages --------------------------------------------------------------
phase deps
if ! "$stack/deps.sh"; then
  if ((ci)); then
    echo "run.sh: tests/stack/deps.sh failed" >&2
    exit 1
  fi
  echo "run.sh: WARNING: tests/stack/deps.sh failed; going on with what is installed" >&2
fi

# --- 2. build -----------------------------------------------------------------
phase configure
werror=OFF
((ci)) && werror=ON
cmake -S . -B build -DFS_WERROR="$werror"
phase build
cmake --build build -j2

# --- 3. services --------------------------------------------------------------
if [[ -n "${FORESHOCK_TEST_KAFKA:-}" && -n "${FORESHOCK_TEST_REDIS:-}" ]]; then
  phase ""
  echo "run.sh: using the existing services FORESHOCK_TEST_KAFKA=$FORESHOCK_TEST_KAFKA" \
    "FORESHOCK_TEST_REDIS=$FORESHOCK_TEST_REDIS (starting nothing)" >&2
  if [[ -z "${FORESHOCK_TEST_REDIS_SERVER:-}" ]] && command -v redis-server >/dev/null; then
    FORESHOCK_TEST_REDIS_SERVER="$(command -v redis-server)"
    export FORESHOCK_TEST_REDIS_SERVER
  fi
else
  if [[ -n "${FORESHOCK_TEST_KAFKA:-}${FORESHOCK_TEST_REDIS:-}" ]]; then
    echo "run.sh: only one of FORESHOCK_TEST_KAFKA/FORESHOCK_TEST_REDIS is set; starting both" >&2
  fi
  unset FORESHOCK_TEST_KAFKA FORESHOCK_TEST_REDIS
  phase "fetch kafka"
  libs=""
  if libs="$("$stack/kafka-fetch.sh")"; then
    phase "start stack"
    rundir="$(mktemp -d "${TMPDIR:-/tmp}/foreshock-stack.XXXXXX")"
    if FORESHOCK_KAFKA_LIBS="$libs" FORESHOCK_STACK_OWNER_PID=$$ \
      "$stack/start.sh" "$rundir" >&2; then
      # shellcheck disable=SC1091
      source "$rundir/env"
      echo "run.sh: stack up in $rundir: FORESHOCK_TEST_KAFKA=$FORESHOCK_TEST_KAFKA" \
        "FORESHOCK_TEST_REDIS=$FORESHOCK_TEST_REDIS" >&2
    else
      stop_stack
      if ((ci)); then
        echo "run.sh: the test stack (Kafka, redis-server) failed to start" >&2
        exit 1
      fi
      warn_loud "the test stack (Kafka broker, redis-server) failed to start."
    fi
  else
    if ((ci)); then
      echo "run.sh: fetching the Kafka jars failed" >&2
      exit 1
    fi
    warn_loud "fetching the Kafka jars failed; no test stack."
  fi
  phase ""
fi

# --- 4. tests -----------------------------------------------------------------
phase ctest
set +e
ctest --test-dir build --output-on-failure -j2 "$@"
status=$?
set -e
phase ""
stop_stack
echo "run.sh: [time] total: $(fs_since "$t_all")s; ctest exit status $status" >&2
exit "$status"
