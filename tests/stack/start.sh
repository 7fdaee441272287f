#!/usr/bin/env bash
# Starts the integration-test stack in RUNDIR: a real single-node Apache Kafka
# 4.1.1 broker (KRaft, broker+controller) and a real redis-server, each on free
# loopback ports picked now, and waits until both answer.
#   usage: tests/stack/start.sh RUNDIR      (RUNDIR: missing or empty)
# Writes RUNDIR/env (export FORESHOCK_TEST_KAFKA=127.0.0.1:P,
# FORESHOCK_TEST_REDIS=127.0.0.1:P, FORESHOCK_TEST_REDIS_SERVER=<redis-server
# binary>), RUNDIR/kafka.pid and RUNDIR/redis.pid, and prints "kafka=ADDR" and
# "redis=ADDR" on stdout. Stop with tests/stack/stop.sh RUNDIR. If anything fails
# (or it is interrupted) it stops what it had started and exits non-zero.
# Optional environment:
#   FORESHOCK_KAFKA_LIBS        folder of broker jars (default: kafka-fetch.sh)
#   FORESHOCK_STACK_OWNER_PID   stop the stack by itself once that process is gone
#   FORESHOCK_STACK_KAFKA_TIMEOUT / FORESHOCK_STACK_REDIS_TIMEOUT  (90 / 20 s)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

if (($# != 1)); then
  echo "usage: $0 RUNDIR" >&2
  exit 2
fi
mkdir -p "$1"
rundir="$(cd "$1" && pwd -P)"
if [[ -n "$(ls -A "$rundir")" ]]; then
  echo "start.sh: $rundir is not empty" >&2
  exit 2
fi
touch "$rundir/.foreshock-stack" # lets stop.sh know the folder is ours to remove

kafka_timeout="${FORESHOCK_STACK_KAFKA_TIMEOUT:-90}"
redis_timeout="${FORESHOCK_STACK_REDIS_TIMEOUT:-20}"
t0_us=$(fs_now)

# --- stop what was started if we do not get to the end ---------------------
started=()
ok=0
on_exit() {
  trap '' INT TERM HUP
  if ((!ok)) && ((${#started[@]})); then
    echo "start.sh: failed; stopping what it had started (pids ${started[*]})" >&2
    fs_stop_pids 30 "${started[@]}"
    rm -f "$rundir/kafka.pid" "$rundir/redis.pid" "$rundir/env"
  fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

libs="${FORESHOCK_KAFKA_LIBS:-}"
if [[ -z "$libs" ]]; then
  libs="$("$here/kafka-fetch.sh")"
fi
[[ -f "$libs/kafka_2.13-4.1.1.jar" ]] || { echo "start.sh: no Kafka jars in $libs" >&2; exit 1; }
redis_server="$(command -v redis-server)" || { echo "start.sh: redis-server not found (run tests/stack/deps.sh)" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "start.sh: redis-cli not found" >&2; exit 1; }
command -v kcat >/dev/null || { echo "start.sh: kcat not found" >&2; exit 1; }
command -v java >/dev/null || { echo "start.sh: java not found" >&2; exit 1; }

fs_pick_port; kafka_port=$REPLY
fs_pick_port; controller_port=$REPLY
fs_pick_port; redis_port=$REPLY

# --- redis-server (starts while Kafka formats its storage) -----------------
mkdir "$rundir/redis"
redis_log="$rundir/redis.log"
tr=$SECONDS
tr_us=$(fs_now)
"$redis_server" --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$rundir/redis" --daemonize no </dev/null >"$redis_log" 2>&1 &
redis_pid=$!
started+=("$redis_pid")
echo "$redis_pid" >"$rundir/redis.pid"

# --- Kafka: config, storage format, broker ----------------------------------
kdir="$rundir/kafka"
mkdir -p "$kdir/data"
props="$kdir/server.properties"
cat >"$props" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$kdir/data
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=4
auto.create.topics.enable=true
log.cleaner.dedupe.buffer.size=2097152
EOF
log4j="$rundir/log4j2.properties"
cat >"$log4j" <<'EOF'
# Broker logging for tests: warnings and errors only, plus the "started" line.
status = warn
shutdownHook = disable
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = INFO
EOF
kafka_log="$rundir/kafka.log"
jvm_common=(-Djava.awt.headless=true -XX:-UsePerfData "-Dlog4j2.configurationFile=$log4j")

# 16 random bytes, base64url without padding (22 characters); like Kafka's own
# ids, never starting with "-" (the formatter would take it for an option).
cluster_id=-
while [[ "$cluster_id" == -* ]]; do
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
done
tf=$(fs_now)
# The formatter is a short-lived tool: C1 only and a serial GC start it faster.
if ! java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${jvm_common[@]}" \
    -cp "$libs/*" kafka.tools.StorageTool format --cluster-id="$cluster_id" --config="$props" \
    </dev/null >"$kdir/format.log" 2>&1; then
  echo "start.sh: formatting the Kafka storage failed" >&2
  fs_tail_log "kafka storage format" "$kdir/format.log"
  exit 1
fi
echo "start.sh: kafka storage formatted in $(fs_since "$tf")s" >&2

tk=$SECONDS
tk_us=$(fs_now)
java -Xms128m -Xmx512m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError "${jvm_common[@]}" \
  -cp "$libs/*" kafka.Kafka "$props" </dev/null >"$kafka_log" 2>&1 &
kafka_pid=$!
started+=("$kafka_pid")
echo "$kafka_pid" >"$rundir/kafka.pid"

# Stop the stack by itself when its owner dies without calling stop.sh.
if [[ -n "${FORESHOCK_STACK_OWNER_PID:-}" ]]; then
  nohup bash "$here/watchdog.sh" "$FORESHOCK_STACK_OWNER_PID" "$rundir" \
    </dev/null >/dev/null 2>&1 &
  started+=("$!")
  echo "$!" >"$rundir/watchdog.pid"
fi

# --- wait for both ----------------------------------------------------------
deadline=$((tr + redis_timeout))
until [[ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" == PONG ]]; do
  if ! fs_alive "$redis_pid"; then
    echo "start.sh: redis-server exited during startup" >&2
    fs_tail_log redis "$redis_log"
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "start.sh: redis-server not ready after ${redis_timeout}s" >&2
    fs_tail_log redis "$redis_log"
    exit 1
  fi
  sleep 0.1
done
echo "start.sh: redis-server ready on 127.0.0.1:$redis_port in $(fs_since "$tr_us")s" >&2

deadline=$((tk + kafka_timeout))
kafka_ready() {
  local md
  md="$(kcat -L -b "127.0.0.1:$kafka_port" -m 1 2>/dev/null)" || return 1
  # The metadata must list this broker.
  grep -q "broker 1 at 127.0.0.1:$kafka_port" <<<"$md"
}
until kafka_ready; do
  if ! fs_alive "$kafka_pid"; then
    echo "start.sh: the Kafka broker exited during startup" >&2
    fs_tail_log kafka "$kafka_log"
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "start.sh: the Kafka broker was not ready after ${kafka_timeout}s" >&2
    fs_tail_log kafka "$kafka_log"
    exit 1
  fi
  sleep 0.25
done
echo "start.sh: kafka broker ready on 127.0.0.1:$kafka_port in $(fs_since "$tk_us")s (start.sh took $(fs_since "$t0_us")s in all)" >&2

{
  printf 'export FORESHOCK_TEST_KAFKA=%q\n' "127.0.0.1:$kafka_port"
  printf 'export FORESHOCK_TEST_REDIS=%q\n' "127.0.0.1:$redis_port"
  printf 'export FORESHOCK_TEST_REDIS_SERVER=%q\n' "$redis_server"
} >"$rundir/env"
ok=1
echo "kafka=127.0.0.1:$kafka_port"
echo "redis=127.0.0.1:$redis_port"
