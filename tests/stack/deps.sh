#!/usr/bin/env bash
# Installs the Debian packages that building and testing foreshock need (compiler,
# CMake, librdkafka, hiredis, libmicrohttpd, Check, redis-server, kcat, Prometheus
# (the metrics test scrapes foreshock with it), libcurl and Prometheus Alertmanager
# (foreshock-alertmanager posts to it), Maven, a Java runtime).
# A silent, fast no-op when everything is already installed. Add packages to
# FORESHOCK_DEB_PACKAGES below.
#   usage: tests/stack/deps.sh [--no-kafka] [--fuzz] [--valgrind]
# --no-kafka installs only what building and running foreshock needs: no
# broker (Maven, Java) and no test-only servers (Prometheus, Alertmanager,
# Chromium); bench/demo.sh runs an embedded Kafka.
set -euo pipefail

FORESHOCK_DEB_PACKAGES=(
  cmake pkg-config gcc make
  librdkafka-dev libhiredis-dev check libsubunit-dev libjansson-dev
  libmicrohttpd-dev libcurl4-openssl-dev
  redis-server kcat jq
)
FORESHOCK_TEST_PACKAGES=(
  maven # fetches the Kafka broker's jars
  prometheus # tests/integration/check_metrics_e2e.c scrapes foreshock with it
  prometheus-alertmanager # foreshock-alertmanager's end-to-end test posts to it
  chromium # tests/bench/render_report.sh renders a foreshock-bench report headless
  man-db # tests/install/check_install.sh renders the man pages with man -l
)
FORESHOCK_KAFKA_PACKAGES=("${FORESHOCK_TEST_PACKAGES[@]}")
# tests/run.sh --fuzz: clang with libFuzzer (libclang-rt-dev is only a Recommends of clang).
FORESHOCK_FUZZ_PACKAGES=(clang libclang-rt-dev)
# tests/run.sh --valgrind: memcheck.
FORESHOCK_VALGRIND_PACKAGES=(valgrind)

no_kafka=0
pkgs=("${FORESHOCK_DEB_PACKAGES[@]}")
for arg in "$@"; do
  case "$arg" in
  --no-kafka) no_kafka=1 ;;
  --fuzz) pkgs+=("${FORESHOCK_FUZZ_PACKAGES[@]}") ;;
  --valgrind) pkgs+=("${FORESHOCK_VALGRIND_PACKAGES[@]}") ;;
  *) echo "deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
if ((!no_kafka)); then
  pkgs+=("${FORESHOCK_KAFKA_PACKAGES[@]}")
  # A Java runtime for the Kafka broker, only when none is on PATH.
  if ! command -v java >/dev/null 2>&1; then
    pkgs+=(openjdk-17-jre-headless)
  fi
fi

missing=()
for p in "${pkgs[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
((${#missing[@]} == 0)) && exit 0

echo "deps.sh: installing missing packages: ${missing[*]}" >&2

SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps.sh: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

# Keep maintainer scripts from starting services (redis-server). If the machine
# has no policy-rc.d, put a temporary deny-all one in place for this install.
policy=/usr/sbin/policy-rc.d
own_policy=0
cleanup() {
  if ((own_policy)); then "${SUDO[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# temporary, from foreshock tests/stack/deps.sh\nexit 101\n' \
    | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  own_policy=1
fi

apt_opts=(-y -q -o DPkg::Lock::Timeout=300)
"${SUDO[@]}" apt-get "${apt_opts[@]}" update >&2
"${SUDO[@]}" apt-get "${apt_opts[@]}" install "${missing[@]}" >&2

# Make sure redis-server is not left running or enabled as a system service:
# the test stack starts its own on a free port.
for p in "${missing[@]}"; do
  [[ "$p" == redis-server ]] || continue
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    "${SUDO[@]}" systemctl disable --now redis-server.service >/dev/null 2>&1 || true
  fi
  pidfile=/run/redis/redis-server.pid
  if [[ -r "$pidfile" ]]; then
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == redis-server ]]; then
      echo "deps.sh: stopping the redis-server system service (pid $pid)" >&2
      "${SUDO[@]}" kill "$pid" || true
    fi
  fi
done
