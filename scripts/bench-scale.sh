#!/usr/bin/env bash
# Scale benchmark (not a test: it prints what it measured). Starts tansu
# (scripts/kafka.sh) and, inside examples/bench_scale.rs, the test API server
# with TARGETS Deployments (two pods each) and as many policies (1 s ticks),
# produces SAMPLES samples per second over PARTITIONS partitions, runs
# `scalepilot run --sharding partitions` as 1 replica, then 3, kills one of
# the 3, and prints human lines and one last JSON line:
#   {"targets", "replicas", "samplesPerSecond", "rssMbMax", "rssMbIdle",
#    "tickLagP50Ms", "tickLagP99Ms", "decisionsPerSecond", "speedup3v1",
#    "failoverS", "doubleWrites"}
#
#   scripts/bench-scale.sh                 10 000 targets, 100 000 samples/s, 12 partitions
#   TARGETS=1000 SAMPLES=10000 MEASURE=20 scripts/bench-scale.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
TARGETS=${TARGETS:-10000}
SAMPLES=${SAMPLES:-100000}
PARTITIONS=${PARTITIONS:-12}
MEASURE=${MEASURE:-60}
scripts/kafka.sh ensure >/dev/null
cargo build --release --quiet --bin scalepilot --example bench_scale
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIR=$(mktemp -d)
trap 'scripts/kafka.sh stop "$DIR"' EXIT
scripts/kafka.sh start "$DIR" "$PORT"
SCALEPILOT_TEST_BROKERS="127.0.0.1:$PORT" target/release/examples/bench_scale \
  --binary target/release/scalepilot --targets "$TARGETS" --partitions "$PARTITIONS" \
  --samples-per-second "$SAMPLES" --measure-seconds "$MEASURE"
