#!/usr/bin/env bash
# The Kafka-protocol broker for tests and benchmarks: tansu 0.6.0 (sqlite storage)
# on 127.0.0.1, built once per machine into a cache outside the repo, and a Python
# venv with confluent-kafka (an independent producer) under target/.
#
#   scripts/kafka.sh ensure              build/check tansu and the venv
#   scripts/kafka.sh start DIR PORT      start a broker with its data in DIR
#   scripts/kafka.sh stop DIR            stop it
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
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import confluent_kafka" 2>/dev/null; then
    return 0
  fi
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "confluent-kafka>=2.6"
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
    (cd "$dir" && nohup "$TANSU" broker \
        --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine "sqlite://tansu.db" >"$dir/broker.log" 2>&1 & echo $! >"$dir/broker.pid")
    wait_port "$port"
    ;;
  stop)
    dir=$2
    if [ -f "$dir/broker.pid" ]; then
      kill "$(cat "$dir/broker.pid")" 2>/dev/null || true
      rm -f "$dir/broker.pid"
    fi
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
