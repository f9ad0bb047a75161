#!/usr/bin/env bash
# Forecast evaluation on every trace of ../shared/traces: train on the first
# 60 % (`scalepilot train --fraction 0.6`), replay the last 40 %
# (`scalepilot simulate --from-fraction 0.6`) through the HPA baseline (CPU
# 80 %), the reactive scalepilot policy (the load stream at 85 per replica, no
# scale-up tolerance), the same policy with the forecast (mode max, targets
# raised 12 % while the accuracy gate trusts it), and the oracle; print
# replica-hours and under-provisioned time of each, and the share of the
# replay in which the accuracy gate trusted the forecast; and the same
# predictive policy with a perfect forecast (`--perfect-forecast`: the true
# peak ahead, always trusted), the most any model could give it; and the
# daily-cycle strength `train` measured (under its bound the policy never acts
# on the forecast and is the reactive one).
# The horizon is 300 s, the default scale-down stabilization window: capacity
# added now stays at least that long, so the forecast sizes it for the peak of
# that span (`train` rounds the horizon to whole steps of the trace, at least
# one). Same settings on every trace: nothing is tuned per trace.
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

policy() { # name, extra spec lines
  cat <<YAML
apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: $1, namespace: eval}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: $1}
  minReplicas: 1
  maxReplicas: 200
  metrics:
    - type: External
      external: {metric: {name: load}, target: {type: AverageValue, averageValue: "85"}}
  behavior: {scaleUp: {tolerance: 0}}
$2
YAML
}

printf '| trace | train s | HPA rh / under %% | reactive rh / under %% | predictive rh / under %% | trusted %% | perfect forecast rh / under %% | oracle rh | model | daily cycle |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for trace in "$TRACES"/*.csv; do
  name=$(basename "$trace" .csv)
  start=$(date +%s.%N)
  "$BIN" train --trace "$trace" --fraction 0.6 --horizon "$HORIZON" --out "$WORK/$name.json" > "$WORK/$name.train.txt"
  train_s=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
  policy reactive "" > "$WORK/reactive.yaml"
  # While the gate trusts the forecast, its margin carries the headroom: the targets run hotter.
  policy predictive "  forecast: {model: $name.json, mode: max, relaxTargetsPercent: ${RELAX:-12}}" > "$WORK/predictive.yaml"
  "$BIN" simulate --trace "$trace" --from-fraction 0.6 --policy "$WORK/reactive.yaml" \
    --policy "$WORK/predictive.yaml" --baseline hpa,oracle --perfect-forecast --json > "$WORK/$name.sim.json"
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
trusted = cards["predictive"]["forecastTrustedPct"]
c = model["dailyCycle"]
cycle = "n/a" if c["strength"] is None else f'{c["strength"]:.2f}' + ("" if c["strength"] >= c["minStrength"] else " (none: reactive)")
print(f'| {sys.argv[3]} | {sys.argv[4]} | {cell(hpa)} | {cell("reactive")} | {cell("predictive")} | {trusted:.0f} | {cell("predictive-perfect")} | {cards[oracle]["replicaHours"]:.0f} | {model["kind"]} | {cycle} |')
PY
done
