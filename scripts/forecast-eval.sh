#!/usr/bin/env bash
# Forecast evaluation on every trace of ../shared/traces: train on the first
# 60 % (`scalepilot train --fraction 0.6`), replay the last 40 %
# (`scalepilot simulate --from-fraction 0.6`) through the HPA baseline, the
# reactive scalepilot policy, the same policy with the forecast (mode max), and
# the oracle; print replica-hours and under-provisioned time of each.
# Same settings on every trace: nothing is tuned per trace.
#   scripts/forecast-eval.sh [TRACES_DIR] [HORIZON]
set -euo pipefail
cd "$(dirname "$0")/.."
TRACES=${1:-../shared/traces}
HORIZON=${2:-300s}
if [ ! -d "$TRACES" ]; then
  echo "SKIPPED: no traces at $TRACES (the shared traces are not on this machine)" >&2
  exit 0
fi
cargo build --release --quiet
BIN=target/release/scalepilot
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

policy() { # name, utilization target, extra spec lines
  cat <<YAML
apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: $1, namespace: eval}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: $1}
  minReplicas: 1
  maxReplicas: 200
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: $2}}
  behavior: {}
$3
YAML
}

printf '| trace | train s | HPA rh / under %% | reactive rh / under %% | predictive rh / under %% | oracle rh | model |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
for trace in "$TRACES"/*.csv; do
  name=$(basename "$trace" .csv)
  start=$(date +%s.%N)
  "$BIN" train --trace "$trace" --fraction 0.6 --horizon "$HORIZON" --out "$WORK/$name.json" > "$WORK/$name.train.txt"
  train_s=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
  policy reactive 80 "" > "$WORK/reactive.yaml"
  # The forecast (with its margin) scales ahead of load, so the reactive part runs hotter.
  policy predictive "${PREDICTIVE_TARGET:-85}" "  forecast: {model: $name.json, mode: max}" > "$WORK/predictive.yaml"
  "$BIN" simulate --trace "$trace" --from-fraction 0.6 --policy "$WORK/reactive.yaml" \
    --policy "$WORK/predictive.yaml" --baseline hpa,oracle --json > "$WORK/$name.sim.json"
  python3 - "$WORK/$name.sim.json" "$WORK/$name.json" "$name" "$train_s" <<'PY'
import json, sys
sim = json.load(open(sys.argv[1]))
model = json.load(open(sys.argv[2]))
cards = {c["name"]: c for c in sim["scorecards"]}
def cell(n):
    c = cards[n]
    return f'{c["replicaHours"]:.0f} / {c["underProvisionedPct"]:.2f}'
hpa = next(n for n in cards if n.startswith("hpa"))
oracle = next(n for n in cards if n.startswith("oracle"))
print(f'| {sys.argv[3]} | {sys.argv[4]} | {cell(hpa)} | {cell("reactive")} | {cell("predictive")} | {cards[oracle]["replicaHours"]:.0f} | {model["kind"]} |')
PY
done
