//! `scalepilot import-hpa` on upstream HPA examples (`tests/fixtures/hpa`,
//! from the Kubernetes documentation): the imported policy decides exactly
//! what the HPA's own spec decides on the same snapshot; v1's CPU target
//! becomes the HPA's arithmetic; bad documents are refused with where; and
//! the cluster's HPAs are read through the test API server.

#[path = "support/apiserver.rs"]
mod apiserver;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scalepilot"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hpa")
        .join(name)
}

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scalepilot-import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn decide(snapshot: &Value) -> Value {
    let mut child = bin()
        .args(["decide", "--snapshot", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(snapshot.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// The HPAs of a fixture, as JSON.
fn hpas(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let v: Value = serde_saphyr::from_str(&text).unwrap();
    match v.get("items") {
        Some(items) => items.as_array().unwrap().clone(),
        None => vec![v],
    }
}

fn pod(name: &str) -> Value {
    json!({ "name": name, "phase": "Running", "ready": true,
            "startTime": "2026-01-01T10:00:00Z", "readyTransitionTime": "2026-01-01T10:00:20Z",
            "containers": [ { "name": "app", "requests": { "cpu": "500m", "memory": "1Gi" } } ] })
}

/// Four pods and every metric the fixtures name, busy enough to scale up.
fn snapshot(policy: (&str, Value)) -> Value {
    let pods: Vec<Value> = (0..4).map(|i| pod(&format!("p{i}"))).collect();
    let per_pod = |v: &str| -> Value {
        (0..4)
            .map(|i| (format!("p{i}"), json!({ "value": v })))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    json!({
        "now": "2026-01-01T12:00:00Z",
        policy.0: policy.1,
        "currentReplicas": 4,
        "pods": pods,
        "metrics": [
            { "type": "Resource", "resource": "cpu", "timestamp": "2026-01-01T11:59:50Z", "windowSeconds": 60, "pods": per_pod("450m") },
            { "type": "Resource", "resource": "memory", "timestamp": "2026-01-01T11:59:50Z", "windowSeconds": 60, "pods": per_pod("700Mi") },
            { "type": "Pods", "name": "packets-per-second", "pods": per_pod("1500") },
            { "type": "Object", "name": "requests-per-second", "value": "12k" }
        ],
        "history": { "recommendations": [ { "time": "2026-01-01T11:58:00Z", "replicas": 9 } ] }
    })
}

#[test]
fn imported_policies_decide_what_the_hpas_own_specs_decide() {
    let dir = workdir("roundtrip");
    let out = dir.join("policies");
    for f in ["php-apache-v2-metrics.yaml", "behavior-list.yaml"] {
        let o = bin()
            .args([
                "import-hpa",
                fixture(f).to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        ok(o);
        for hpa in hpas(f) {
            let ns = hpa["metadata"]["namespace"].as_str().unwrap_or("default");
            let name = hpa["metadata"]["name"].as_str().unwrap();
            let file = out.join(format!("{ns}-{name}.yaml"));
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(text.starts_with("# Imported from "), "{text}");
            let own = decide(&snapshot(("policy", hpa["spec"].clone())));
            let imported = decide(&snapshot(("policyFile", json!(file))));
            assert!(own["desiredReplicas"].is_i64(), "{own:#}");
            for field in ["desiredReplicas", "proposals", "steps", "conditions"] {
                assert_eq!(imported[field], own[field], "{name}: {field}");
            }
        }
    }
    // What the HPA left to defaults is said: api's minReplicas and scaleUp.
    let api = std::fs::read_to_string(out.join("shop-api.yaml")).unwrap();
    assert!(
        api.contains("# minReplicas: not set; 1, the HPA's default"),
        "{api}"
    );
    assert!(api.contains("# behavior.scaleUp: not set"), "{api}");
    let php = std::fs::read_to_string(out.join("default-php-apache.yaml")).unwrap();
    assert!(
        php.contains("# metrics[1]: scalepilot needs a source"),
        "{php}"
    );
}

#[test]
fn a_v1_cpu_target_becomes_the_hpas_arithmetic() {
    let dir = workdir("v1");
    let yaml = ok(bin()
        .args([
            "import-hpa",
            fixture("php-apache-v1.yaml").to_str().unwrap(),
        ])
        .output()
        .unwrap());
    assert!(yaml.contains("averageUtilization: 50"), "{yaml}");
    assert!(
        yaml.contains("# behavior: none; the HPA's legacy rules"),
        "{yaml}"
    );
    std::fs::write(dir.join("p.yaml"), &yaml).unwrap();
    let v = bin()
        .args(["validate", dir.join("p.yaml").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    // Four pods at 450m of 500m (90 %) against 50 %: ceil(4 × 90 / 50) = 8,
    // within the legacy scale-up limit max(2 × 4, 4).
    let d = decide(&snapshot(("policyFile", json!(dir.join("p.yaml")))));
    assert_eq!(d["desiredReplicas"], 8, "{d:#}");
    // From standard input too.
    let mut child = bin()
        .args(["import-hpa", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(fixture("php-apache-v1.yaml")).unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        yaml.replace(fixture("php-apache-v1.yaml").to_str().unwrap(), "<stdin>")
    );
}

#[test]
fn documents_that_are_not_hpas_are_refused_with_where() {
    let dir = workdir("bad");
    let f = dir.join("mixed.yaml");
    std::fs::write(
        &f,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
    )
    .unwrap();
    let o = bin()
        .args(["import-hpa", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("mixed.yaml: document 1: kind: expected HorizontalPodAutoscaler"),
        "{err}"
    );
    let g = dir.join("typo.yaml");
    std::fs::write(&g, "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 5\n  minReplica: 2\n").unwrap();
    let o = bin()
        .args(["import-hpa", g.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("typo.yaml: document 1 (HorizontalPodAutoscaler default/web)")
            && err.contains("minReplica"),
        "{err}"
    );
    let g2 = dir.join("max.yaml");
    std::fs::write(&g2, "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  minReplicas: 6\n  maxReplicas: 5\n").unwrap();
    let o = bin()
        .args(["import-hpa", g2.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("does not validate") && err.contains("spec.maxReplicas"),
        "{err}"
    );
    let none = bin().args(["import-hpa"]).output().unwrap();
    assert!(String::from_utf8_lossy(&none.stderr).contains("no HorizontalPodAutoscaler given"));
}

#[test]
fn the_clusters_hpas_are_imported_through_the_api() {
    let server = apiserver::TestApiServer::start();
    let dir = workdir("cluster");
    let kubeconfig = dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig);
    server.ensure_namespace("shop");
    for hpa in hpas("behavior-list.yaml") {
        server.put(hpa);
    }
    let yaml = ok(bin()
        .args(["import-hpa", "--from-cluster", "-n", "shop", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .unwrap());
    assert_eq!(yaml.matches("kind: ScalingPolicy").count(), 2, "{yaml}");
    assert!(
        yaml.contains("name: web") && yaml.contains("averageUtilization: 60"),
        "{yaml}"
    );
    assert!(yaml.contains("averageValue: 500Mi"), "{yaml}");
    let empty = bin()
        .args([
            "import-hpa",
            "--from-cluster",
            "-n",
            "elsewhere",
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .output()
        .unwrap();
    assert!(empty.status.success() && empty.stdout.is_empty());
    let note = String::from_utf8_lossy(&empty.stderr);
    assert!(
        note.contains("no HorizontalPodAutoscalers in namespace elsewhere"),
        "{note}"
    );
}
