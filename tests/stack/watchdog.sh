#!/usr/bin/env bash
# Started in the background by tests/stack/start.sh when FORESHOCK_STACK_OWNER_PID
# is set: runs stop.sh RUNDIR once the owner process is gone (e.g. tests/run.sh
# was killed with SIGKILL and could not clean up), so no broker is orphaned.
#   usage: tests/stack/watchdog.sh OWNER_PID RUNDIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
owner=$1
rundir=$2
trap '' INT HUP
while kill -0 "$owner" 2>/dev/null && [[ -d "$rundir" ]]; do
  sleep 1
done
if [[ -d "$rundir" ]]; then
  exec "$here/stop.sh" "$rundir"
fi
