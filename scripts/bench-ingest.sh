#!/usr/bin/env bash
# Ingest benchmarks, each side by side with the Python peer (confluent-kafka + json)
# in the same run, on this machine. Not a test: it prints figures and ratios.
#
#   scripts/bench-ingest.sh            hot path (in memory) and end to end (tansu)
# Needs: cargo, python3; builds/starts what it needs through scripts/kafka.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
N=${N:-200000}
scripts/kafka.sh ensure >/dev/null
PY=target/py/bin/python
cargo build --release --quiet

echo "== hot path: decode -> dedupe -> 60 s windows, payloads in memory, one core"
peer=$($PY scripts/bench_peer.py hot)
echo "python peer (events/s): $peer"
cargo bench --quiet --bench features -- --noplot hot_path 2>/dev/null | grep -E "^hot_path|thrpt" | sed 's/^/scalepilot: /'

echo "== end to end through the broker: $N single-sample messages of about 115 bytes"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIR=$(mktemp -d)
trap 'scripts/kafka.sh stop "$DIR"' EXIT
scripts/kafka.sh start "$DIR" "$PORT"
TOPIC=bench-$$
scripts/kafka.sh topic "$PORT" "$TOPIC" 3
$PY scripts/bench_peer.py produce "127.0.0.1:$PORT" "$TOPIC" "$N"
echo "broker ceiling (raw fetch, python): $($PY scripts/bench_peer.py raw "127.0.0.1:$PORT" "$TOPIC" "$N")"
echo "python peer (fetch + decode + windows): $($PY scripts/bench_peer.py full "127.0.0.1:$PORT" "$TOPIC" "$N")"
OUT=$(mktemp)
/usr/bin/time -f "%U %S %e" -o "$OUT.time" target/release/scalepilot features --brokers "127.0.0.1:$PORT" \
  --topic "$TOPIC" --group "bench-$$" --once --checkpoint-topic "bench-$$-cp" >"$OUT" 2>/dev/null
python3 - "$OUT" "$OUT.time" <<'PY'
import json, sys
counters = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["counters"]
user, sys_, wall = map(float, open(sys.argv[2]).read().split()[-3:])
secs = counters["consumingSeconds"]
print(f"scalepilot (fetch + decode + dedupe + windows + checkpoints): {counters['counted']} events in {secs:.2f} s "
      f"= {counters['counted'] / secs:,.0f} events/s; CPU {user + sys_:.2f} s over {wall:.2f} s wall "
      f"(about {(user + sys_) / secs:.2f} cores while consuming, group join included in CPU)")
PY
