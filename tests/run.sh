#!/usr/bin/env bash
# Builds foreshock and runs all its ctest suites, with a real Kafka broker and a
# real redis-server for the integration suites. What .ci/run runs.
#   usage: tests/run.sh [ctest args...]      (from any folder)
#          tests/run.sh --sanitize [ctest args...]
#          tests/run.sh --valgrind [ctest args...]
#          tests/run.sh --fuzz SECONDS [libFuzzer flags...]
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
#   5. with CI=true, also the unit suites (not integration, not render) again in
#      build-sanitize with AddressSanitizer and UndefinedBehaviorSanitizer
# Exits with ctest's status. With CI=true a stack that cannot start fails the run;
# without it a loud warning is printed and the integration suites skip (77).
#
# --sanitize builds into build-sanitize with -DFS_SANITIZE=ON (ASan+UBSan) and
# runs the whole suite there, services included.
#
# --valgrind builds into build-valgrind with -DFS_VALGRIND=ON (every test program
# and the foreshock/foreshock-bench programs tests start run under valgrind
# memcheck; an error or a definite/indirect leak fails the test) and runs the
# unit suites there (no services; not integration, not render). Slow: about
# 30 minutes on 2 cores, so CI runs the sanitizers instead.
#
# --fuzz SECONDS fuzzes instead (no services, no ctest; every plain run replays
# the fuzz corpora under ctest anyway):
#   1. tests/stack/deps.sh --no-kafka --fuzz (clang and its libFuzzer runtime)
#   2. cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DFS_FUZZ=ON; builds the
#      libFuzzer programs of tests/fuzz (fuzz_decode, fuzz_config)
#   3. runs each for SECONDS on build-fuzz/fuzz-work/NAME/corpus, which starts as a
#      copy of tests/fuzz/corpus/NAME (less the crash-* reproducers of known bugs,
#      which ctest replays) and keeps what fuzzing finds from run to run; the
#      libFuzzer flags given are passed on. Prints each fuzzer's runs, coverage,
#      corpus size and any crash with its reproducer; exits 1 if one crashed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$root"
stack="$root/tests/stack"
# shellcheck source-path=SCRIPTDIR source=stack/lib.sh
source "$stack/lib.sh"

ci=0
case "${CI:-}" in true | 1) ci=1 ;; esac

sanitize=0
if [[ "${1:-}" == --sanitize ]]; then
  sanitize=1
  shift
fi
valgrind=0
if [[ "${1:-}" == --valgrind ]]; then
  valgrind=1
  shift
fi
builddir=build
((sanitize)) && builddir=build-sanitize
sanitize_flag=()
((sanitize)) && sanitize_flag=(-DFS_SANITIZE=ON)
fuzz_seconds=""
if [[ "${1:-}" == --fuzz ]]; then
  if [[ ! "${2:-}" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: tests/run.sh --fuzz SECONDS [libFuzzer flags...]" >&2
    exit 2
  fi
  fuzz_seconds=$2
  shift 2
fi

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

# --- fuzzing (--fuzz SECONDS) ----------------------------------------------------
# fuzz_signature BIN FILE: why FILE crashes BIN, on one line (the failed check or
# sanitizer error and the line after it, without addresses and temporary file
# names), or nothing.
fuzz_signature() {
  "$1" "$2" 2>&1 | grep -a -m 1 -A 1 -E 'fuzz check failed|ERROR: [A-Za-z]+Sanitizer|runtime error:' \
    | sed -E 's/==[0-9]+==//; s/0x[0-9a-f]+/0x?/g; s#[^ ]*/fs_fuzz_[a-z]+_[a-z]+_[A-Za-z0-9]{6}#TMP#g' \
    | tr -s ' \n' ' ' | cut -c 1-240 || true
}

# fuzz_one NAME MAX_LEN [libFuzzer flags...]: runs build-fuzz/tests/fuzz/fuzz_NAME
# for fuzz_seconds and prints a summary; returns non-zero if it crashed. Fork
# mode keeps fuzzing after a crash, so a known bug does not end the run early.
fuzz_one() {
  local name=$1 max_len=$2
  shift 2
  local bin="$root/build-fuzz/tests/fuzz/fuzz_$name" work="$root/build-fuzz/fuzz-work/$name"
  local log="$work/fuzz.log" seeds="$root/tests/fuzz/corpus/$name"
  mkdir -p "$work/corpus" "$work/artifacts"
  rm -f "$work/artifacts"/*
  # A crash-* reproducer of a known bug would stop libFuzzer while it reads
  # the corpus; ctest replays those.
  find "$seeds" -maxdepth 1 -type f ! -name 'crash-*' ! -name '.*' \
    -exec cp -t "$work/corpus" {} +
  "$bin" -fork=1 -ignore_crashes=1 -max_total_time="$fuzz_seconds" -max_len="$max_len" \
    -dict="$root/tests/fuzz/$name.dict" -artifact_prefix="$work/artifacts/" "$@" \
    "$work/corpus" >"$log" 2>&1 || true
  local last runs cov ft corpus
  last=$(grep -a -E '^#[0-9]+: cov: ' "$log" | tail -n 1 || true)
  runs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  cov=$(grep -Eo 'cov: [0-9]+' <<<"$last" | cut -d' ' -f2)
  ft=$(grep -Eo 'ft: [0-9]+' <<<"$last" | cut -d' ' -f2)
  corpus=$(find "$work/corpus" -type f | wc -l)
  echo "run.sh: fuzz_$name: ${runs:-?} runs in ${fuzz_seconds}s, coverage ${cov:-?} edges," \
    "${ft:-?} features, corpus ${corpus} inputs (build-fuzz/fuzz-work/$name/corpus)" >&2
  local crashes=("$work/artifacts"/*)
  [[ -e "${crashes[0]}" ]] || return 0
  # One line per distinct failure, with one reproducer and whether a crash-*
  # file of the corpus already shows it (a known bug).
  local known="" f sig
  for f in "$seeds"/crash-*; do
    [[ -e "$f" ]] && known+="$(fuzz_signature "$bin" "$f")"$'\n'
  done
  echo "run.sh: fuzz_$name FAILED: ${#crashes[@]} crashing inputs in $work/artifacts:" >&2
  for f in "${crashes[@]}"; do
    sig=$(fuzz_signature "$bin" "$f")
    printf '%s\t%s\n' "${sig:-(no message; run it to see)}" "$f"
  done | sort -t $'\t' -k1,1 -u | while IFS=$'\t' read -r sig f; do
    if [[ -n "$sig" ]] && grep -qxF -- "$sig" <<<"$known"; then
      echo "run.sh:   known bug (a crash-* file shows it): $sig" >&2
    else
      echo "run.sh:   not shown by a crash-* file yet: $sig" >&2
      echo "run.sh:        reproduce: $bin $f" >&2
      echo "run.sh:        keep it as tests/fuzz/corpus/$name/crash-<what>" >&2
    fi
  done
  return 1
}

if [[ -n "$fuzz_seconds" ]]; then
  phase deps
  if ! "$stack/deps.sh" --no-kafka --fuzz; then
    echo "run.sh: WARNING: tests/stack/deps.sh failed; going on with what is installed" >&2
  fi
  if ! command -v clang >/dev/null 2>&1; then
    echo "run.sh: --fuzz needs clang and its libFuzzer runtime (Debian: clang"       "libclang-rt-dev), which tests/stack/deps.sh --fuzz installs" >&2
    exit 1
  fi
  phase "fuzz build"
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DFS_FUZZ=ON
  cmake --build build-fuzz -j2 --target fuzz_decode fuzz_config
  failed=0
  phase "fuzz decode"
  fuzz_one decode 4096 "$@" || failed=1
  # Long lines (over 8190 bytes) take bigger inputs.
  phase "fuzz config"
  fuzz_one config 16384 "$@" || failed=1
  phase ""
  result=passed
  ((failed)) && result=FAILED
  echo "run.sh: [time] total: $(fs_since "$t_all")s; fuzzing $result" >&2
  exit "$failed"
fi

# --- memcheck (--valgrind) ------------------------------------------------------
if ((valgrind)); then
  phase deps
  "$stack/deps.sh" --no-kafka --valgrind
  phase configure
  werror=OFF
  ((ci)) && werror=ON
  cmake -S . -B build-valgrind -DFS_WERROR="$werror" -DFS_VALGRIND=ON
  phase build
  cmake --build build-valgrind -j2
  phase "valgrind ctest"
  set +e
  # check's per-test timeouts (CK_DEFAULT_TIMEOUT) stretched for valgrind's pace.
  CK_TIMEOUT_MULTIPLIER=30 ctest --test-dir build-valgrind --output-on-failure -j2 \
    --timeout 3000 -LE 'integration|render' "$@"
  status=$?
  set -e
  phase ""
  echo "run.sh: [time] total: $(fs_since "$t_all")s; ctest exit status $status" >&2
  exit "$status"
fi

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
cmake -S . -B "$builddir" -DFS_WERROR="$werror" "${sanitize_flag[@]}"
phase build
cmake --build "$builddir" -j2

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
ctest --test-dir "$builddir" --output-on-failure -j2 "$@"
status=$?
set -e
phase ""
stop_stack
if ((ci && !sanitize && status == 0)); then
  phase "sanitize build"
  cmake -S . -B build-sanitize -DFS_WERROR=ON -DFS_SANITIZE=ON
  cmake --build build-sanitize -j2
  phase "sanitize ctest"
  set +e
  ctest --test-dir build-sanitize --output-on-failure -j2 -LE 'integration|render'
  status=$?
  set -e
  phase ""
fi
echo "run.sh: [time] total: $(fs_since "$t_all")s; ctest exit status $status" >&2
exit "$status"
