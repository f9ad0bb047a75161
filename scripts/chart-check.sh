#!/usr/bin/env bash
# Checks the Helm chart in charts/scalepilot offline, with the real tools:
#   1. helm lint --strict, with the default values and with ci/all-on-values.yaml;
#   2. helm template for four cases (defaults; every option on; policies from
#      --set-file with one replica; an existing policies ConfigMap);
#   3. kubernetes-validate -k 1.33.0 --strict on every rendered manifest except
#      the ServiceMonitor (a CRD it has no schema for, checked field by field
#      by the python below instead);
#   4. python checks of what the schema cannot see: RBAC grants exactly the
#      controller's API calls, the pod's security settings, probes, env, the
#      policies mount without a restart-forcing checksum, Service, PDB,
#      ServiceMonitor, the Grafana dashboard's metric names;
#   5. every API call the controller made in the live-controller tests
#      (target/rbac-observed.jsonl, appended by tests/controller.rs) is granted
#      by the default values' RBAC; skipped loudly when the file is missing,
#      a failure instead with SCALEPILOT_REQUIRE_RBAC_OBSERVED=1;
#   6. values the chart must refuse (schema and template checks).
# helm comes from scripts/k8s-tools.sh; kubernetes-validate is installed once
# per machine into a venv under /opt/scalepilot-cache (SCALEPILOT_CACHE moves
# it). Exits non-zero on any failure. Run from anywhere: scripts/chart-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CACHE="${SCALEPILOT_CACHE:-/opt/scalepilot-cache}"
KV_VERSION=1.37.0
KV_VENV="$CACHE/kubernetes-validate-$KV_VERSION"
KUBE_VERSION=1.33.0
CHART=charts/scalepilot
RELEASE=scalepilot
NAMESPACE=scalepilot
OUT="$ROOT/target/chart-check"

export HELM_CACHE_HOME="$ROOT/target/helm-home/cache"
export HELM_CONFIG_HOME="$ROOT/target/helm-home/config"
export HELM_DATA_HOME="$ROOT/target/helm-home/data"
mkdir -p "$HELM_CACHE_HOME" "$HELM_CONFIG_HOME" "$HELM_DATA_HOME"

PASSED=0
FAILED=0
ok() { PASSED=$((PASSED + 1)); echo "  ok    $*"; }
bad() { FAILED=$((FAILED + 1)); echo "  FAIL  $*"; }
# run DESCRIPTION CMD...: a check that passes when CMD exits 0 (its output is
# shown only on failure).
run() {
  local what=$1 log
  shift
  log=$(mktemp)
  if "$@" >"$log" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/        /' "$log"; fi
  rm -f "$log"
}

echo "== tools"
scripts/k8s-tools.sh ensure
HELM="$(scripts/k8s-tools.sh path)/helm/helm"

kv_installed() {
  [ -f "$KV_VENV/.complete" ] && "$KV_VENV/bin/kubernetes-validate" --version >/dev/null 2>&1
}
if ! kv_installed; then
  echo "installing kubernetes-validate==$KV_VERSION into $KV_VENV" >&2
  # A venv cannot be moved once made: build it in place and mark it complete
  # only when pip has succeeded, so that a half-done install is redone.
  rm -rf "$KV_VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$KV_VENV"
  "$KV_VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KV_VERSION"
  touch "$KV_VENV/.complete"
  kv_installed || { echo "kubernetes-validate does not run from $KV_VENV" >&2; exit 1; }
fi
KV="$KV_VENV/bin/kubernetes-validate"
PY="$KV_VENV/bin/python" # has PyYAML, a dependency of kubernetes-validate
echo "kubernetes-validate: $KV ($("$KV" --version)), against Kubernetes $KUBE_VERSION"

rm -rf "$OUT"
mkdir -p "$OUT"

# The cases: name, then helm's value arguments. The checker reads the same
# values (CHECK_VALUES, CHECK_POLICY_FILES) to know what to expect.
# The README's install example: a CPU policy and no broker at all.
cat >"$OUT/one-replica-values.yaml" <<'EOF'
replicaCount: 1
kafka:
  brokers: []
EOF
cat >"$OUT/existing-configmap-values.yaml" <<'EOF'
existingPoliciesConfigMap: team-policies
kafka:
  security:
    protocol: SSL
    tls:
      caSecret: {name: kafka-ca, key: ca.pem}
EOF
CASES=(default all-on set-file existing-configmap sharded)
case_values() { # the -f files of a case
  case $1 in
    default) ;;
    all-on) echo "$CHART/ci/all-on-values.yaml" ;;
    sharded) echo "$CHART/ci/sharded-values.yaml" ;;
    set-file) echo "$OUT/one-replica-values.yaml" ;;
    existing-configmap) echo "$OUT/existing-configmap-values.yaml" ;;
  esac
}
case_set_files() { # the --set-file policies of a case, name=path
  case $1 in
    set-file) echo "web.yaml=policies/web-cpu.yaml reports.yaml=policies/reports-conservative.yaml" ;;
  esac
}
escape_key() { printf '%s' "$1" | sed 's/\./\\./g'; }
helm_args() {
  local f p
  ARGS=()
  for f in $(case_values "$1"); do ARGS+=(-f "$f"); done
  for p in $(case_set_files "$1"); do ARGS+=(--set-file "policies.$(escape_key "${p%%=*}")=${p#*=}"); done
}

echo "== helm lint --strict"
for c in default all-on; do
  helm_args "$c"
  echo "\$ helm lint --strict --kube-version $KUBE_VERSION $CHART ${ARGS[*]}"
  run "helm lint --strict ($c values)" "$HELM" lint --strict --kube-version "$KUBE_VERSION" "$CHART" "${ARGS[@]}"
done

echo "== helm template"
for c in "${CASES[@]}"; do
  helm_args "$c"
  echo "\$ helm template $RELEASE $CHART -n $NAMESPACE --kube-version $KUBE_VERSION ${ARGS[*]} > $OUT/$c.yaml"
  run "helm template ($c)" sh -c '"$@" > "'"$OUT/$c.yaml"'"' _ \
    "$HELM" template "$RELEASE" "$CHART" -n "$NAMESPACE" --kube-version "$KUBE_VERSION" "${ARGS[@]}"
done

echo "== NOTES.txt (helm install --dry-run=client, no cluster)"
for c in default all-on; do
  helm_args "$c"
  run "NOTES.txt renders ($c)" sh -c '"$@" | grep -q "^NOTES:"' _ env KUBECONFIG=/nonexistent \
    "$HELM" install "$RELEASE" "$CHART" -n "$NAMESPACE" --dry-run=client "${ARGS[@]}"
done

echo "== split out the CRD objects kubernetes-validate has no schema for"
for c in "${CASES[@]}"; do
  "$PY" - "$OUT/$c.yaml" "$OUT/$c.core.yaml" "$OUT/$c.crd.yaml" <<'PY'
import sys, yaml
src, core, crd = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(src)) if d]
builtin = [d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")]
crds = [d for d in docs if d["apiVersion"].startswith("monitoring.coreos.com/")]
yaml.safe_dump_all(builtin, open(core, "w"), sort_keys=False)
yaml.safe_dump_all(crds, open(crd, "w"), sort_keys=False)
print(f"  {src}: {len(builtin)} built-in objects, {len(crds)} CRD objects ({', '.join(d['kind'] for d in crds) or 'none'})")
PY
done

# kubernetes-validate only warns (and exits 0) on a kind it has no schema for:
# treat any warning as a failure, so that nothing goes unvalidated unnoticed.
kv_strict() {
  local out
  out=$("$KV" -k "$KUBE_VERSION" --strict --quiet "$@" 2>&1) || { echo "$out"; return 1; }
  if grep -q . <<<"$out"; then echo "$out"; return 1; fi
}
echo "== kubernetes-validate -k $KUBE_VERSION --strict"
for c in "${CASES[@]}"; do
  echo "\$ kubernetes-validate -k $KUBE_VERSION --strict $OUT/$c.core.yaml"
  run "kubernetes-validate --strict ($c: $(grep -c '^kind:' "$OUT/$c.core.yaml") objects)" \
    kv_strict "$OUT/$c.core.yaml"
done
echo "  note  ServiceMonitor (monitoring.coreos.com/v1) is a CRD: NOT validated by kubernetes-validate; its fields are checked below"

echo "== manifest checks (RBAC, security, probes, env, policies, Service, PDB, ServiceMonitor, dashboard)"
for c in "${CASES[@]}"; do
  echo "-- $c"
  log=$(mktemp)
  if CHECK_VALUES="$CHART/values.yaml $(case_values "$c")" CHECK_POLICY_FILES="$(case_set_files "$c")" \
    CHECK_NAMESPACE="$NAMESPACE" CHECK_DASHBOARD="$CHART/dashboards/scalepilot.json" \
    "$PY" - "$OUT/$c.yaml" >"$log" 2>&1 <<'PY'; then
import json, os, re, sys
import yaml

rendered = sys.argv[1]
ns = os.environ["CHECK_NAMESPACE"]
failures = []

def check(cond, what):
    print(("  ok    " if cond else "  FAIL  ") + what)
    if not cond:
        failures.append(what)
    return cond

def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        elif v is None:
            a.pop(k, None)
        else:
            a[k] = v
    return a

values = {}
for f in os.environ["CHECK_VALUES"].split():
    merge(values, yaml.safe_load(open(f)) or {})
for spec in os.environ.get("CHECK_POLICY_FILES", "").split():
    name, path = spec.split("=", 1)
    values.setdefault("policies", {})[name] = open(path).read()

docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
def objs(kind):
    return [d for d in docs if d["kind"] == kind]
def one(kind, name=None):
    found = [d for d in objs(kind) if name is None or d["metadata"]["name"] == name]
    if not check(len(found) == 1, f"exactly one {kind}{' ' + name if name else ''} (found {len(found)})"):
        sys.exit(1)
    return found[0]

dep = one("Deployment")
pod = dep["spec"]["template"]
podspec = pod["spec"]
pod_labels = pod["metadata"]["labels"]
containers = podspec["containers"]
check(len(containers) == 1, "one container")
ctr = containers[0]
sa_name = podspec["serviceAccountName"]
watch = values.get("watchNamespaces") or []
lease = values["leaderElection"]["leaseName"]
sharding = values["sharding"]
shard_base = lease[: -len("-leader")] if lease.endswith("-leader") else lease
lease_names = ([f"{shard_base}-shard-{i}" for i in range(sharding["partitions"])]
               if sharding["mode"] == "partitions" else [lease])
selects = lambda sel: all(pod_labels.get(k) == v for k, v in sel.items()) and bool(sel)

# ---- RBAC: exactly the controller's API calls, nothing more
WORKLOAD = {
    ("", "pods"): {"get", "list", "watch"},
    ("autoscaling", "horizontalpodautoscalers"): {"get", "list", "watch"},
    ("events.k8s.io", "events"): {"create", "patch"},
    ("metrics.k8s.io", "pods"): {"get", "list"},
}
# The targets' kinds, from rbac.scaleTargets: the objects and their /scale.
for t in values["rbac"]["scaleTargets"]:
    for res in t["resources"]:
        WORKLOAD[(t["apiGroup"], res)] = {"get", "list", "watch", "patch"}
        WORKLOAD[(t["apiGroup"], res + "/scale")] = {"get", "patch", "update"}
LEASES = {("coordination.k8s.io", "leases"): {"get", "create", "update"}}

def grants(role):
    """(group, resource) -> verbs."""
    out = {}
    for r in role.get("rules", []):
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                out.setdefault((g, res), set()).update(r.get("verbs", []))
    return out

roles, croles = objs("Role"), objs("ClusterRole")
for role in roles + croles:
    rules = role.get("rules", [])
    where = f"{role['kind']} {role['metadata'].get('namespace', '')}/{role['metadata']['name']}".replace(" /", " ")
    check("aggregationRule" not in role and rules
          and not any("nonResourceURLs" in r or "*" in r.get("apiGroups", []) + r.get("resources", []) + r.get("verbs", [])
                      for r in rules),
          f"{where}: {len(rules)} rules, no wildcard, no nonResourceURLs, no aggregationRule")

def show(g):
    return "; ".join(f"{grp or 'core'}/{res}: {','.join(sorted(v))}" for (grp, res), v in sorted(g.items()))

lease_roles = [r for r in roles if r["metadata"]["namespace"] == ns and grants(r).keys() == LEASES.keys()]
check(len(lease_roles) == 1, f"one Role for Leases in the release namespace {ns}")
if lease_roles:
    lr = lease_roles[0]
    g = grants(lr)
    check(g == LEASES, f"Lease Role grants exactly {show(LEASES)} (got {show(g)})")
    for r in lr["rules"]:
        if set(r["verbs"]) - {"create"}:
            check(r.get("resourceNames") == lease_names, f"Lease Role: {','.join(r['verbs'])} only on Leases {lease_names}")
workload_roles = [r for r in roles if r not in lease_roles]
if watch:
    check(not croles and not objs("ClusterRoleBinding"), "watchNamespaces set: no ClusterRole, no ClusterRoleBinding")
    got_ns = sorted(r["metadata"]["namespace"] for r in workload_roles)
    check(got_ns == sorted(watch), f"a workload Role in each watched namespace {sorted(watch)} (got {got_ns})")
    for r in workload_roles:
        g = grants(r)
        check(g == WORKLOAD, f"Role {r['metadata']['namespace']}/{r['metadata']['name']} grants exactly the workload calls (got {show(g)})")
else:
    check(len(croles) == 1, f"one ClusterRole (got {len(croles)})")
    check(not workload_roles, "no Role besides the Lease Role")
    for r in croles:
        g = grants(r)
        check(g == WORKLOAD, f"ClusterRole {r['metadata']['name']} grants exactly {show(WORKLOAD)} (got {show(g)})")
all_roles = {("ClusterRole", None, r["metadata"]["name"]) for r in croles} | \
            {("Role", r["metadata"]["namespace"], r["metadata"]["name"]) for r in roles}
bound = set()
for b in objs("RoleBinding") + objs("ClusterRoleBinding"):
    ref = b["roleRef"]
    key = (ref["kind"], b["metadata"].get("namespace") if ref["kind"] == "Role" else None, ref["name"])
    check(key in all_roles, f"{b['kind']} {b['metadata']['name']} binds a Role the chart renders ({key})")
    bound.add(key)
    check(b["subjects"] == [{"kind": "ServiceAccount", "name": sa_name, "namespace": ns}],
          f"{b['kind']} {b['metadata']['name']} binds only ServiceAccount {ns}/{sa_name}")
check(bound == all_roles, "every Role and ClusterRole is bound")
if values["serviceAccount"]["create"]:
    check(one("ServiceAccount", sa_name)["metadata"]["namespace"] == ns, f"ServiceAccount {sa_name} in {ns}")

# ---- the pod: replicas, security, probes
check(dep["spec"]["replicas"] == values["replicaCount"], f"Deployment replicas = {values['replicaCount']}")
psc, csc = podspec.get("securityContext", {}), ctr.get("securityContext", {})
check(psc.get("runAsNonRoot") is True and psc.get("seccompProfile") == {"type": "RuntimeDefault"},
      "pod: runAsNonRoot, seccompProfile RuntimeDefault")
check(csc.get("runAsNonRoot") is True and csc.get("readOnlyRootFilesystem") is True
      and csc.get("allowPrivilegeEscalation") is False
      and csc.get("capabilities") == {"drop": ["ALL"]}
      and csc.get("seccompProfile") == {"type": "RuntimeDefault"} and not csc.get("privileged"),
      "container: runAsNonRoot, readOnlyRootFilesystem, no privilege escalation, drop ALL capabilities, seccomp RuntimeDefault")
check(psc.get("runAsUser", 0) > 0, f"pod runs as uid {psc.get('runAsUser')} (not root)")
res = ctr.get("resources", {})
check({"cpu", "memory"} <= set(res.get("requests", {})) and "memory" in res.get("limits", {}),
      f"resources: requests {res.get('requests')} and limits {res.get('limits')}")
ports = {p["name"]: p["containerPort"] for p in ctr.get("ports", [])}
check(ports == {"metrics": 9090}, "container port metrics = 9090")
lp, rp = ctr.get("livenessProbe", {}).get("httpGet", {}), ctr.get("readinessProbe", {}).get("httpGet", {})
check(lp.get("path") == "/healthz" and lp.get("port") in ("metrics", 9090), "livenessProbe GET /healthz on metrics")
check(rp.get("path") == "/readyz" and rp.get("port") in ("metrics", 9090), "readinessProbe GET /readyz on metrics")
if not values.get("affinity"):
    pref = podspec.get("affinity", {}).get("podAntiAffinity", {}).get("preferredDuringSchedulingIgnoredDuringExecution", [])
    check(any(t["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
              and selects(t["podAffinityTerm"]["labelSelector"]["matchLabels"]) for t in pref),
          "default affinity: pod anti-affinity preferred by hostname, selecting these pods")
else:
    check(podspec.get("affinity") == values["affinity"], "affinity override replaces the default")

# ---- env: the controller's interface
env = ctr.get("env", [])
names = [e["name"] for e in env]
check(len(names) == len(set(names)), f"no duplicate env names ({len(names)} vars)")
E = {e["name"]: e for e in env}
val = lambda n: E.get(n, {}).get("value")
check(E.get("POD_NAME", {}).get("valueFrom") == {"fieldRef": {"fieldPath": "metadata.name"}}, "POD_NAME from the downward API (--identity)")
check(E.get("POD_NAMESPACE", {}).get("valueFrom") == {"fieldRef": {"fieldPath": "metadata.namespace"}}, "POD_NAMESPACE from the downward API (--lease-namespace)")
k = values["kafka"]
expect = {
    "SCALEPILOT_POLICIES": "/etc/scalepilot/policies",
    "SCALEPILOT_LISTEN": "0.0.0.0:9090",
    "SCALEPILOT_BROKERS": ",".join(k["brokers"]) or None,
    "SCALEPILOT_TOPICS": ",".join(k["topics"]),
    "SCALEPILOT_GROUP": k["group"],
    "SCALEPILOT_CHECKPOINT_TOPIC": k["checkpointTopic"],
    "SCALEPILOT_LEASE_NAME": lease,
    "SCALEPILOT_LEASE_DURATION": values["leaderElection"]["leaseDuration"],
    "SCALEPILOT_RENEW_DEADLINE": values["leaderElection"]["renewDeadline"],
    "SCALEPILOT_RETRY_PERIOD": values["leaderElection"]["retryPeriod"],
    "SCALEPILOT_LOG_FORMAT": values["logFormat"],
    "SCALEPILOT_DRY_RUN": "true" if values["dryRun"] else None,
    "SCALEPILOT_NAMESPACES": ",".join(watch) or None,
    "SCALEPILOT_DEAD_LETTER_TOPIC": k.get("deadLetterTopic") or None,
    "SCALEPILOT_SHARDING": "partitions" if sharding["mode"] == "partitions" else None,
}
for n, v in expect.items():
    check(val(n) == v, f"{n} = {v!r}" + (" (unset)" if v is None else ""))
sec = k["security"]
if sec["sasl"]["mechanism"]:
    ref = E.get("SCALEPILOT_KAFKA_SASL_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef")
    check(ref == sec["sasl"]["passwordSecret"] and "value" not in E.get("SCALEPILOT_KAFKA_SASL_PASSWORD", {}),
          f"SASL password from Secret {ref} (never a literal)")
    check(val("SCALEPILOT_KAFKA_SASL_MECHANISM") == sec["sasl"]["mechanism"], f"SASL mechanism {sec['sasl']['mechanism']}")
check(val("SCALEPILOT_KAFKA_SECURITY_PROTOCOL") == (sec["protocol"] or None), f"security.protocol = {sec['protocol'] or '(librdkafka default)'}")
mounts = {m["mountPath"]: m for m in ctr.get("volumeMounts", [])}
vols = {v["name"]: v for v in podspec.get("volumes", [])}
if sec["tls"]["caSecret"]["name"]:
    ca = val("SCALEPILOT_KAFKA_SSL_CA_LOCATION")
    m = mounts.get(os.path.dirname(ca or "/"))
    v = vols.get(m["name"]) if m else None
    check(bool(v) and v.get("secret", {}).get("secretName") == sec["tls"]["caSecret"]["name"]
          and {"key": sec["tls"]["caSecret"]["key"], "path": os.path.basename(ca)} in v["secret"].get("items", []),
          f"ssl.ca.location {ca} is key {sec['tls']['caSecret']['key']} of Secret {sec['tls']['caSecret']['name']}")
else:
    check("SCALEPILOT_KAFKA_SSL_CA_LOCATION" not in E, "no ssl.ca.location without a CA Secret")
for n in names:
    if n.startswith("SCALEPILOT_KAFKA_"):
        print(f"        librdkafka property {n[len('SCALEPILOT_KAFKA_'):].lower().replace('_', '.')} from {n}")

# ---- policies: a ConfigMap directory, reloaded live (no restart-forcing checksum)
cm_name = values.get("existingPoliciesConfigMap") or None
m = mounts.get("/etc/scalepilot/policies")
check(bool(m) and "subPath" not in m and m.get("readOnly") is True, "policies mounted read-only at /etc/scalepilot/policies, whole directory (no subPath)")
pv = vols.get(m["name"], {}) if m else {}
pod_ann = pod["metadata"].get("annotations") or {}
check(not any("checksum" in a for a in pod_ann), f"pod template has no checksum annotation (policies reload live; pod annotations: {sorted(pod_ann)})")
check("scalepilot.io/policies-checksum" in dep["metadata"].get("annotations", {}), "the policies checksum is on the Deployment's own metadata")
if cm_name:
    check(pv.get("configMap", {}).get("name") == cm_name, f"policies volume is the existing ConfigMap {cm_name}")
    check(not [c for c in objs("ConfigMap") if c["metadata"]["name"].endswith("-policies")], "no chart policies ConfigMap")
else:
    cm = one("ConfigMap", pv.get("configMap", {}).get("name"))
    data = cm.get("data") or {}
    want = values.get("policies") or {}
    check(sorted(data) == sorted(want), f"policies ConfigMap holds {sorted(want) or 'no files'}")
    for name, text in want.items():
        check(data.get(name, "").strip() == text.strip(), f"policy {name} is mounted unchanged")
        for d in yaml.safe_load_all(data.get(name, "")):
            check(d and d.get("kind") == "ScalingPolicy", f"policy {name}: a ScalingPolicy document ({(d or {}).get('metadata', {}).get('name')})")

# ---- Service, PDB
svc = one("Service")
sp = svc["spec"]["ports"]
check([(p["name"], p["port"], p["targetPort"]) for p in sp] == [("metrics", values["service"]["port"], "metrics")],
      f"Service port {values['service']['port']} named metrics -> container port metrics")
check(selects(svc["spec"]["selector"]), "Service selects the controller pods")
pdbs = objs("PodDisruptionBudget")
if values["replicaCount"] > 1 and values["podDisruptionBudget"]["enabled"]:
    check(len(pdbs) == 1 and pdbs[0]["spec"]["minAvailable"] == values["podDisruptionBudget"]["minAvailable"]
          and selects(pdbs[0]["spec"]["selector"]["matchLabels"]),
          f"PodDisruptionBudget minAvailable {values['podDisruptionBudget']['minAvailable']} selecting the pods")
else:
    check(not pdbs, "no PodDisruptionBudget with a single replica (it would block drains)")

# ---- ServiceMonitor: a CRD, so its fields are checked here
sms = objs("ServiceMonitor")
if values["serviceMonitor"]["enabled"]:
    check(len(sms) == 1, "one ServiceMonitor")
    sm = sms[0]
    check(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor apiVersion monitoring.coreos.com/v1")
    check(set(sm) <= {"apiVersion", "kind", "metadata", "spec"}, "ServiceMonitor: no unknown top-level fields")
    spec = sm["spec"]
    check(set(spec) <= {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels", "sampleLimit"},
          f"ServiceMonitor spec fields known ({sorted(spec)})")
    sel = spec["selector"]["matchLabels"]
    check(all(svc["metadata"]["labels"].get(k2) == v2 for k2, v2 in sel.items()), "ServiceMonitor selector matches the Service's labels")
    check(spec.get("namespaceSelector", {}).get("matchNames") == [ns] or sm["metadata"]["namespace"] == ns,
          "ServiceMonitor looks in the release namespace")
    dur = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$")
    for ep in spec["endpoints"]:
        check(set(ep) <= {"port", "path", "scheme", "interval", "scrapeTimeout", "honorLabels", "relabelings", "metricRelabelings"},
              f"ServiceMonitor endpoint fields known ({sorted(ep)})")
        check(ep["port"] == "metrics" and ep.get("path", "/metrics") == "/metrics" and ep.get("scheme", "http") == "http",
              "ServiceMonitor scrapes port metrics, /metrics over http")
        check(all(dur.match(ep.get(f, "30s")) for f in ("interval", "scrapeTimeout")), "ServiceMonitor durations are Prometheus durations")
    for k2, v2 in values["serviceMonitor"].get("labels", {}).items():
        check(sm["metadata"]["labels"].get(k2) == v2, f"ServiceMonitor label {k2}={v2}")
else:
    check(not sms, "no ServiceMonitor when serviceMonitor.enabled is false")

# ---- Grafana dashboard
METRICS = {
    "scalepilot_decisions_total", "scalepilot_scale_writes_total", "scalepilot_desired_replicas",
    "scalepilot_current_replicas", "scalepilot_observed_value", "scalepilot_forecast_value",
    "scalepilot_forecast_fallback", "scalepilot_leader", "scalepilot_ingest_lag_messages",
    "scalepilot_ingest_samples_total", "scalepilot_ingest_rejected_total", "scalepilot_windows_open",
    "scalepilot_decision_duration_seconds", "scalepilot_policies_loaded", "scalepilot_policy_errors_total",
}
dash_file = json.load(open(os.environ["CHECK_DASHBOARD"]))
exprs = [t["expr"] for p in dash_file["panels"] for t in p.get("targets", [])]
used = {re.sub(r"_bucket$", "", m) for e in exprs for m in re.findall(r"\bscalepilot_[a-z_]+", e)}
check(used <= METRICS, f"dashboard uses only the controller's metrics (unknown: {sorted(used - METRICS)})")
check(used == METRICS, f"dashboard shows every metric (missing: {sorted(METRICS - used)})")
dcms = [c for c in objs("ConfigMap") if (c["metadata"].get("labels") or {}).get("grafana_dashboard") is not None]
if values["grafanaDashboard"]["enabled"]:
    check(len(dcms) == 1 and dcms[0]["metadata"]["labels"]["grafana_dashboard"] == "1", 'dashboard ConfigMap labelled grafana_dashboard: "1"')
    check(json.loads(dcms[0]["data"]["scalepilot.json"]) == dash_file, "dashboard ConfigMap holds dashboards/scalepilot.json")
else:
    check(not dcms, "no dashboard ConfigMap when grafanaDashboard.enabled is false")

sys.exit(1 if failures else 0)
PY
    n=$(grep -c '^  ok ' "$log" || true)
    PASSED=$((PASSED + n))
    cat "$log"
  else
    n=$(grep -c '^  ok ' "$log" || true)
    f=$(grep -c '^  FAIL ' "$log" || true)
    PASSED=$((PASSED + n))
    FAILED=$((FAILED + (f > 0 ? f : 1)))
    cat "$log"
  fi
  rm -f "$log"
done

OBSERVED="$ROOT/target/rbac-observed.jsonl"
echo "== RBAC grants every call the controller made (${OBSERVED#"$ROOT/"}, default values; shard Leases: the sharded case)"
if [ ! -f "$OBSERVED" ]; then
  if [ "${SCALEPILOT_REQUIRE_RBAC_OBSERVED:-}" = 1 ]; then
    bad "no target/rbac-observed.jsonl (run the controller tests first); SCALEPILOT_REQUIRE_RBAC_OBSERVED=1 requires it"
  else
    echo "  ********************************************************************"
    echo "  SKIP: no target/rbac-observed.jsonl (run the controller tests first)"
    echo "  ********************************************************************"
  fi
else
  log=$(mktemp)
  rc=0
  CHECK_NAMESPACE="$NAMESPACE" "$PY" - "$OUT/default.yaml" "$OUT/sharded.yaml" "$OBSERVED" >"$log" 2>&1 <<'PY' || rc=$?
import json, os, sys
import yaml

rendered, sharded, observed_file = sys.argv[1:]
ns = os.environ["CHECK_NAMESPACE"]
renders = {r: [d for d in yaml.safe_load_all(open(r)) if d] for r in (rendered, sharded)}
docs = renders[rendered]
objs = lambda kind: [d for d in docs if d["kind"] == kind]

def bound(role, binding_kind):
    """Whether a binding of this kind in the role's scope binds the role."""
    for b in objs(binding_kind):
        ref = b["roleRef"]
        if ref["kind"] == role["kind"] and ref["name"] == role["metadata"]["name"] and \
                (binding_kind == "ClusterRoleBinding" or b["metadata"].get("namespace") == role["metadata"].get("namespace")):
            return True
    return False

def matches(rule, t):
    """A PolicyRule grants this request (as RBAC's rule resolution does)."""
    res = t["resource"]
    return (
        any(g in ("*", t["apiGroup"]) for g in rule.get("apiGroups", []))
        and any(r == "*" or r == res or ("/" in res and r == "*/" + res.split("/", 1)[1])
                for r in rule.get("resources", []))
        and any(v in ("*", t["verb"]) for v in rule.get("verbs", []))
        and (not rule.get("resourceNames") or t.get("name") in rule["resourceNames"])
    )

triples, failed = {}, 0
for i, line in enumerate(open(observed_file), 1):
    if not line.strip():
        continue
    try:
        t = json.loads(line)
        key = (t["apiGroup"], t["resource"], t["verb"], t.get("namespace"), t.get("name"))
    except (ValueError, KeyError, TypeError) as e:
        print(f"  FAIL  {observed_file}:{i}: not an observed request ({e}): {line.strip()}")
        failed += 1
        continue
    triples[key] = t
print(f"  {len(triples)} distinct observed requests in {observed_file}")
if not triples:
    print("  FAIL  no observed requests: the controller tests recorded nothing")
    failed += 1

def show(t):
    where = f" in namespace {t['namespace']}" if t.get("namespace") else ""
    name = f" name {t['name']}" if t.get("name") else ""
    return f"{t['apiGroup'] or 'core'} {t['resource']} {t['verb']}{where}{name}"

for key in sorted(triples, key=lambda k: tuple(x or "" for x in k)):
    t = triples[key]
    # A shard Lease (tests/sharding.rs) is the sharded install's to grant.
    docs = renders[sharded if "-shard-" in (t.get("name") or "") else rendered]
    if (t["apiGroup"], t["resource"]) == ("coordination.k8s.io", "leases"):
        # The Lease: only the Role in the release namespace grants it.
        if t.get("namespace") != ns:
            print(f"  FAIL  {show(t)}: the Lease Role is in namespace {ns}, not {t.get('namespace')}")
            failed += 1
            continue
        by = [f"Role {ns}/{r['metadata']['name']}" for r in objs("Role")
              if r["metadata"].get("namespace") == ns and bound(r, "RoleBinding")
              and any(matches(rule, t) for rule in r.get("rules", []))]
    else:
        by = [f"ClusterRole {r['metadata']['name']}" for r in objs("ClusterRole")
              if bound(r, "ClusterRoleBinding") and any(matches(rule, t) for rule in r.get("rules", []))]
    if by:
        print(f"  PASS  {show(t)} (granted by {', '.join(by)})")
    else:
        print(f"  FAIL  {show(t)}: not granted by the rendered RBAC")
        failed += 1
sys.exit(1 if failed else 0)
PY
  cat "$log"
  n=$(grep -c '^  PASS ' "$log" || true)
  f=$(grep -c '^  FAIL ' "$log" || true)
  PASSED=$((PASSED + n))
  FAILED=$((FAILED + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then bad "the observed-RBAC check failed (exit $rc)"; fi
  rm -f "$log"
fi

echo "== values the chart must refuse"
refuse() { # refuse DESCRIPTION EXPECTED-MESSAGE-REGEX helm-args...
  local what=$1 pattern=$2 log
  shift 2
  log=$(mktemp)
  if "$HELM" template "$RELEASE" "$CHART" -n "$NAMESPACE" --kube-version "$KUBE_VERSION" "$@" >"$log" 2>&1; then
    bad "$what: rendered, should have been refused"
  elif grep -Eq "$pattern" "$log"; then
    ok "$what: refused ($(grep -Eo "$pattern" "$log" | head -1))"
  else
    bad "$what: failed, but not with /$pattern/"
    sed 's/^/        /' "$log"
  fi
  rm -f "$log"
}
refuse "an unknown top-level value" "additional properties 'replicas' not allowed" --set replicas=3
refuse "an unknown nested value" "/kafka'?: additional properties 'broker' not allowed" --set kafka.broker=x:9092
refuse "resources without limits" "/resources'?: missing property 'limits'" --set resources.limits=null
refuse "a policy file not named *.yaml" "'web' does not match pattern" --set-file "policies.web=policies/web-cpu.yaml"
refuse "an unknown security protocol" "/kafka/security/protocol'?: value must be one of" --set kafka.security.protocol=TLS
refuse "zero replicas" "/replicaCount'?: minimum" --set replicaCount=0
refuse "running as root" "/podSecurity/runAsUser'?: minimum" --set podSecurity.runAsUser=0
refuse "turning readOnlyRootFilesystem off" "additional properties 'readOnlyRootFilesystem' not allowed" \
  --set podSecurity.readOnlyRootFilesystem=false
refuse "a lease duration that is not whole seconds" "/leaderElection/leaseDuration'?: '1500ms' does not match pattern" \
  --set leaderElection.leaseDuration=1500ms
refuse "SASL without a SASL protocol" "needs kafka.security.protocol SASL_SSL" --set kafka.security.sasl.mechanism=PLAIN
refuse "SASL without the password Secret" "passwordSecret.name is required" \
  --set kafka.security.protocol=SASL_SSL --set kafka.security.sasl.mechanism=SCRAM-SHA-512 --set kafka.security.sasl.username=u
refuse "a CA Secret without TLS" "neither SSL nor SASL_SSL" --set kafka.security.tls.caSecret.name=ca
refuse "a Kafka property the chart owns" "set it with kafka.brokers, kafka.group or kafka.security" \
  --set "kafka.properties.sasl\.password=secret"
refuse "a scale target kind without resources" "/rbac/scaleTargets/0/resources'?: minItems" \
  --set 'rbac.scaleTargets[0].apiGroup=apps' --set-json 'rbac.scaleTargets[0].resources=[]'
printf 'kafka:\n  brokers: []\n' > "$OUT/no-brokers-values.yaml"
refuse "partition sharding without brokers" "sharding.mode partitions needs kafka.brokers" --set sharding.mode=partitions -f "$OUT/no-brokers-values.yaml"
refuse "an unknown sharding mode" "/sharding/mode'?: value must be one of" --set sharding.mode=hash
refuse "zero shard partitions" "/sharding/partitions'?: minimum" --set sharding.partitions=0
refuse "both policies and an existing ConfigMap" "not both" \
  --set existingPoliciesConfigMap=x --set-file "policies.web\.yaml=policies/web-cpu.yaml"

echo "== summary"
echo "rendered manifests: $OUT/{$(IFS=,; echo "${CASES[*]}")}.yaml"
echo "chart-check: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
