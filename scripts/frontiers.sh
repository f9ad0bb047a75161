#!/usr/bin/env bash
# Frontiers and tuning on every trace of ../shared/traces, the last 40 % of
# each replayed (as scripts/forecast-eval.sh does):
#  - `simulate --sweep 60:95:5`: the HPA, KEDA and the reactive policy (the
#    load at N % of a replica, no scale-up tolerance) at each target; each read
#    at the HPA's point (80 %): τU at the HPA's cost, cost at the HPA's τU and
#    the share of the HPA→oracle replica-hour gap that closes;
#  - `tune --fraction 0.6 --budget B`: the policy tuned on the first 60 %, and
#    what it and the HPA did on the last 40 %.
#   scripts/frontiers.sh [TRACES_DIR] [BUDGET]
set -euo pipefail
cd "$(dirname "$0")/.."
TRACES=${1:-../shared/traces}
BUDGET=${2:-1%}
if [ ! -d "$TRACES" ]; then
  echo "SKIPPED: no traces at $TRACES (the shared traces are not on this machine)" >&2
  exit 0
fi
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
BIN=target/release/scalepilot
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/reactive.yaml" <<YAML
apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: reactive, namespace: eval}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: reactive}
  minReplicas: 1
  maxReplicas: 200
  metrics:
    - type: External
      external: {metric: {name: load}, target: {type: AverageValue, averageValue: "85"}}
  behavior: {scaleUp: {tolerance: 0}}
YAML
printf '| trace | HPA@80 rh / τU %% | oracle rh | reactive: τU at the HPA cost | reactive: cost at the HPA τU | gap closed | KEDA: cost at the HPA τU | tuned (budget %s) held out rh / τU %% | HPA held out rh / τU %% | tune s |\n' "$BUDGET"
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for trace in "$TRACES"/*.csv; do
  name=$(basename "$trace" .csv)
  "$BIN" simulate --trace "$trace" --from-fraction 0.6 --policy "$WORK/reactive.yaml" \
    --sweep 60:95:5 --json > "$WORK/$name.sweep.json"
  start=$(date +%s.%N)
  "$BIN" tune --trace "$trace" --fraction 0.6 --budget "$BUDGET" --periods "${PERIODS:-3}" --policy "$WORK/reactive.yaml" \
    --out "$WORK/$name.tuned.yaml" --json > "$WORK/$name.tune.json"
  tune_s=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
  python3 - "$WORK/$name.sweep.json" "$WORK/$name.tune.json" "$name" "$tune_s" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["sweep"]
t = json.load(open(sys.argv[2]))
ref = s["reference"]
cmp = {c["name"]: c for c in s["comparisons"]}
def rel(v, base):
    return f' ({(v - base) / base * 100:+.0f} %)' if base else ''
def under(c):
    u = c["underAtReferenceCost"]
    return "none that cheap" if u is None else f'{u:.2f}{rel(u, ref["underProvisionedPct"])}'
def cost(c):
    v = c["costAtReferenceUnder"]
    return "never that rarely short" if v is None else f'{v:.0f}{rel(v, ref["replicaHours"])}'
gap = cmp["reactive"]["oracleGapClosedPct"]
held = {r["name"]: r for r in t["heldOut"]}
cell = lambda r: f'{r["replicaHours"]:.0f} / {r["underProvisionedPct"]:.2f}'
print(f'| {sys.argv[3]} | {ref["replicaHours"]:.0f} / {ref["underProvisionedPct"]:.2f} | {s["oracleReplicaHours"]:.0f} | '
      f'{under(cmp["reactive"])} | {cost(cmp["reactive"])} | {"-" if gap is None else f"{gap:.0f} %"} | {cost(cmp["keda"])} | '
      f'{cell(held["reactive-tuned"])}{"" if t["withinBudget"] else " (budget not met on the history)"} | {cell(held["hpa"])} | {sys.argv[4]} |')
PY
done
