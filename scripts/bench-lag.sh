#!/usr/bin/env bash
# The cost of one consumer-lag refresh for a topic of P partitions (default
# 1 000), side by side with the Python peer (confluent-kafka: committed offsets
# plus one watermark query per partition, as a naive exporter does). Not a
# test: it prints figures. Starts its own tansu through scripts/kafka.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
P=${P:-1000}
scripts/kafka.sh ensure >/dev/null
PY=target/py/bin/python
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIR=$(mktemp -d)
trap 'scripts/kafka.sh stop "$DIR"' EXIT
scripts/kafka.sh start "$DIR" "$PORT"
BROKERS="127.0.0.1:$PORT" TOPIC="lag-bench-$$" GROUP="lag-bench-workers-$$"
scripts/kafka.sh topic "$PORT" "$TOPIC" "$P"
$PY tests/support/lag.py "$BROKERS" produce "$TOPIC" $((P * 3))
$PY tests/support/lag.py "$BROKERS" consume "$TOPIC" "$GROUP" "$P"
echo "== python peer: committed offsets + one watermark query per partition ($P)"
echo "python peer: $($PY tests/support/lag.py "$BROKERS" bench "$TOPIC" "$GROUP" 5)"
echo "== scalepilot: one refresh (metadata + OffsetFetch + 2 x ListOffsets)"
SCALEPILOT_BENCH_BROKERS="$BROKERS" SCALEPILOT_BENCH_TOPIC="$TOPIC" SCALEPILOT_BENCH_GROUP="$GROUP" \
  cargo bench --quiet --bench lag -- --noplot 2>&1 | grep -E "lag_refresh|^lag/|time:" | sed 's/^/scalepilot: /'
