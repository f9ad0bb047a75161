#!/usr/bin/env bash
# The Kafka-protocol broker for tests and benchmarks: tansu 0.6.0 (sqlite storage)
# on 127.0.0.1, built once per machine into a cache outside the repo, and a Python
# venv with confluent-kafka and opentelemetry-proto (independent producers) under target/.
#
#   scripts/kafka.sh ensure              build/check tansu and the venv
#   scripts/kafka.sh start DIR PORT      start a broker with its data in DIR (its pid in DIR/broker.pid)
#   scripts/kafka.sh stop DIR            stop it and wait until it has exited
#   scripts/kafka.sh topic PORT NAME N   create topic NAME with N partitions (ok if it exists)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${SCALEPILOT_CACHE:-/opt/scalepilot-cache}"
TANSU_VERSION=0.6.0
TANSU="$CACHE/tansu-$TANSU_VERSION/bin/tansu"
VENV="$ROOT/target/py"

ensure_tansu() {
  if [ -x "$TANSU" ] && "$TANSU" --version 2>/dev/null | grep -q "tansu $TANSU_VERSION"; then
    return 0
  fi
  echo "building tansu $TANSU_VERSION into $CACHE (about 11 minutes on 2 cores, once per machine)" >&2
  mkdir -p "$CACHE"
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql \
    --root "$CACHE/tansu-$TANSU_VERSION" >"$CACHE/tansu-build.log" 2>&1 || {
      tail -30 "$CACHE/tansu-build.log" >&2; exit 1; }
}

ensure_venv() {
  if [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" -c "import confluent_kafka, opentelemetry.proto.metrics.v1.metrics_pb2" 2>/dev/null; then
    return 0
  fi
  python3 -m venv "$VENV"
  # opentelemetry-proto: the independent OTLP encoder of tests/support/produce_otlp.py.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "confluent-kafka>=2.6" "opentelemetry-proto>=1.20"
}

# Whether pid $1 is a tansu process.
is_tansu() {
  case "$(readlink "/proc/$1/exe" 2>/dev/null)" in
    */tansu | */tansu" (deleted)") return 0 ;;
  esac
  return 1
}

# The tansu processes serving DIR: those whose working directory is DIR (where
# their tansu.db lives). A fallback for a broker whose pid file is missing or
# wrong (older versions of this script recorded the pid of a subshell).
brokers_in() {
  local dir=$1 p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/cwd" 2>/dev/null)" = "$dir" ] || continue
    if is_tansu "${p#/proc/}"; then echo "${p#/proc/}"; fi
  done
}

# Sends TERM to the pids given, waits up to 10 s for them to exit, then KILLs
# what is left and waits up to 10 s more; fails if any is still there.
stop_pids() {
  local pid left
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  for signal in KILL ""; do
    for _ in $(seq 1 100); do
      left=""
      for pid in "$@"; do
        if kill -0 "$pid" 2>/dev/null; then left="$left $pid"; fi
      done
      [ -n "$left" ] || return 0
      sleep 0.1
    done
    if [ -n "$signal" ]; then
      # shellcheck disable=SC2086
      kill -"$signal" $left 2>/dev/null || true
    fi
  done
  echo "tansu did not exit:$left" >&2
  return 1
}

wait_port() {
  local port=$1
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "broker did not open 127.0.0.1:$port" >&2
  return 1
}

case "${1:-}" in
  ensure)
    ensure_tansu
    ensure_venv
    echo "tansu: $TANSU"
    echo "python: $VENV/bin/python"
    ;;
  start)
    dir=$2 port=$3
    ensure_tansu
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd -P)"
    # `exec`: the background job becomes nohup, which becomes tansu, so $! is
    # tansu's own pid (not that of a subshell that outlives nothing).
    (cd "$dir" && exec nohup "$TANSU" broker \
        --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine "sqlite://tansu.db" >"$dir/broker.log" 2>&1) &
    echo $! >"$dir/broker.pid"
    wait_port "$port"
    ;;
  stop)
    dir=$2
    [ -d "$dir" ] || exit 0
    dir="$(cd "$dir" && pwd -P)"
    pids=""
    # The recorded pid, if it still is a tansu (a stale file may name a reused pid).
    if [ -f "$dir/broker.pid" ] && is_tansu "$(cat "$dir/broker.pid")"; then
      pids="$(cat "$dir/broker.pid")"
    fi
    # shellcheck disable=SC2046
    stop_pids $pids $(brokers_in "$dir")
    rm -f "$dir/broker.pid"
    ;;
  topic)
    port=$2 name=$3 partitions=$4
    "$TANSU" topic create "$name" --broker "tcp://127.0.0.1:$port" --partitions "$partitions" >/dev/null 2>&1 || true
    ;;
  *)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
