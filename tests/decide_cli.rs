//! `scalepilot decide` end to end: snapshots in, decisions out, exit codes
//! 0 (decision), 3 (HPA computation error), 2 (malformed input).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn decide_stdin(snapshot: &str, extra: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalepilot"))
        .args(["decide", "--snapshot", "-"])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(snapshot.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn decide_json(snapshot: &Value) -> (i32, Value) {
    let out = decide_stdin(&snapshot.to_string(), &[]);
    let code = out.status.code().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, v)
}

fn pod(name: &str) -> Value {
    json!({ "name": name, "phase": "Running", "ready": true,
            "startTime": "2026-01-01T10:00:00Z", "readyTransitionTime": "2026-01-01T10:00:20Z",
            "containers": [ { "name": "app", "requests": { "cpu": "500m" } } ] })
}

/// The snapshot of the issue: three pods, every metric type, some history.
fn issue_snapshot() -> Value {
    json!({
        "now": "2026-01-01T12:00:00Z",
        "policy": { "minReplicas": 1, "maxReplicas": 10, "metrics": [
            { "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 50 } } },
            { "type": "Pods", "pods": { "metric": { "name": "http_requests" }, "target": { "type": "AverageValue", "averageValue": "10" } } },
            { "type": "Object", "object": { "describedObject": { "apiVersion": "v1", "kind": "Service", "name": "web" },
                "metric": { "name": "requests_per_second" }, "target": { "type": "Value", "value": "100" } } },
            { "type": "External", "external": { "metric": { "name": "queue_lag" }, "target": { "type": "AverageValue", "averageValue": "250" } } }
        ], "behavior": {} },
        "controller": { "tolerance": 0.1, "cpuInitializationPeriodSeconds": 300, "initialReadinessDelaySeconds": 30,
                        "downscaleStabilizationWindowSeconds": 300, "scaleUpLimitFactor": 2.0, "scaleUpLimitMinimum": 4 },
        "currentReplicas": 3,
        "statusReplicas": 3,
        "pods": [ pod("web-0"), pod("web-1"), pod("web-2") ],
        "metrics": [
            { "type": "Resource", "resource": "cpu", "timestamp": "2026-01-01T11:59:50Z", "windowSeconds": 60,
              "pods": { "web-0": { "value": "250m", "containers": { "app": "250m" } },
                        "web-1": { "value": "250m" }, "web-2": { "containers": { "app": "250m" } } } },
            { "type": "Pods", "name": "http_requests", "pods": { "web-0": { "value": "12" }, "web-1": { "value": "12" }, "web-2": { "value": "12" } } },
            { "type": "Object", "name": "requests_per_second", "value": "100" },
            { "type": "External", "name": "queue_lag", "values": ["600", "400"] }
        ],
        "rawRecommendation": null,
        "history": { "recommendations": [ { "time": "2026-01-01T11:59:00Z", "replicas": 4 } ],
                     "scaleUpEvents": [ { "time": "2026-01-01T11:59:50Z", "replicas": 2 } ],
                     "scaleDownEvents": [] }
    })
}

#[test]
fn the_issue_snapshot_decides_and_explains() {
    let (code, d) = decide_json(&issue_snapshot());
    assert_eq!(code, 0, "{d:#}");
    // cpu 50 % of 50 %: keep 3; http 12/10 = 1.2 → 4; object 100/100: keep 3; external 1000/250 = 4.
    let replicas: Vec<i64> = d["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["replicas"].as_i64().unwrap())
        .collect();
    assert_eq!(replicas, [3, 4, 3, 4]);
    assert_eq!(d["proposals"][0]["utilizationPercent"], 50);
    assert_eq!(d["proposals"][0]["rawValue"], "250m");
    assert_eq!(d["proposals"][3]["rawValue"], "333334m"); // ceil(1000 / 3) in milli-units
                                                          // Scale-up events: 2 pods added 10 s ago; policies allow max(1+4, 2×1) from a period start of 1: 5 ≥ 4.
    assert_eq!(d["desiredReplicas"], 4);
    let steps: Vec<&str> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "metrics",
            "tolerance",
            "stabilization",
            "rateLimit",
            "bounds"
        ]
    );
    assert_eq!(d["conditions"][0]["reason"], "SucceededRescale");
    assert_eq!(d["history"]["scaleUpEvents"].as_array().unwrap().len(), 2);
    assert!(d["error"].is_null());
}

#[test]
fn a_computation_error_exits_3_with_the_error_set() {
    let mut s = issue_snapshot();
    s["policy"]["metrics"] = json!([{ "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 50 } } }]);
    s["metrics"] = json!([{ "type": "Resource", "resource": "cpu", "pods": { "someone-else": { "value": "100m" } } }]);
    let (code, d) = decide_json(&s);
    assert_eq!(code, 3);
    assert!(
        d["error"]
            .as_str()
            .unwrap()
            .contains("no metrics returned matched known pods"),
        "{d:#}"
    );
    assert_eq!(d["desiredReplicas"], 3);
    assert_eq!(d["conditions"][1]["reason"], "FailedGetResourceMetric");
}

#[test]
fn malformed_input_exits_2_naming_the_field() {
    let mut s = issue_snapshot();
    s["pods"][1]["startTime"] = json!("yesterday");
    let out = decide_stdin(&s.to_string(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pods[1].startTime"), "{err}");
    let mut s = issue_snapshot();
    s["podz"] = json!([]);
    let out = decide_stdin(&s.to_string(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `podz`"));
    let out = decide_stdin("{\"now\": ", &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn policy_file_and_text_output() {
    let snapshot = json!({
        "now": "2026-01-01T12:00:00Z",
        "policyFile": "policies/web-cpu.yaml",
        "currentReplicas": 2,
        "pods": [ pod("web-0"), pod("web-1") ],
        "metrics": [ { "type": "Resource", "resource": "cpu", "pods": { "web-0": { "value": "500m" }, "web-1": { "value": "500m" } } } ]
    });
    let out = decide_stdin(&snapshot.to_string(), &["--output", "text"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // 100 % vs 70 % → ratio 1.43 → ceil(2.86) = 3.
    assert!(
        text.starts_with("desired replicas: 3 (current 2, scale up)"),
        "{text}"
    );
    assert!(text.contains("<- decided"), "{text}");
}

/// A snapshot's `policyFile` is read relative to the snapshot, not to where
/// `decide` happens to run (which here holds a different `p.yaml`).
#[test]
fn a_relative_policy_file_is_relative_to_the_snapshot() {
    let root = std::env::temp_dir().join(format!("scalepilot-decide-rel-{}", std::process::id()));
    let (snap_dir, cwd) = (root.join("snap"), root.join("elsewhere"));
    std::fs::create_dir_all(&snap_dir).unwrap();
    std::fs::create_dir_all(&cwd).unwrap();
    let web = std::fs::read_to_string("policies/web-cpu.yaml").unwrap();
    std::fs::write(snap_dir.join("p.yaml"), &web).unwrap();
    // The working directory's p.yaml would cap the count at 2.
    std::fs::write(
        cwd.join("p.yaml"),
        web.replace("maxReplicas: 40", "maxReplicas: 2"),
    )
    .unwrap();
    let snapshot = json!({
        "now": "2026-01-01T12:00:00Z",
        "policyFile": "p.yaml",
        "currentReplicas": 2,
        "pods": [ pod("web-0"), pod("web-1") ],
        "metrics": [ { "type": "Resource", "resource": "cpu", "pods": { "web-0": { "value": "500m" }, "web-1": { "value": "500m" } } } ]
    });
    std::fs::write(snap_dir.join("snap.json"), snapshot.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scalepilot"))
        .current_dir(&cwd)
        .args(["decide", "--snapshot", "../snap/snap.json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["desiredReplicas"], 3, "{d}");
}

#[test]
fn snapshot_from_a_file_and_zero_times() {
    let dir = std::env::temp_dir().join(format!("scalepilot-decide-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = issue_snapshot();
    // A pod whose start and readiness times were never set carries the zero time.
    s["pods"][0]["startTime"] = json!("0001-01-01T00:00:00Z");
    s["pods"][0]["readyTransitionTime"] = json!("0001-01-01T00:00:00Z");
    let path: PathBuf = dir.join("snap.json");
    std::fs::write(&path, s.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scalepilot"))
        .args(["decide", "--snapshot"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["desiredReplicas"], 4);
}

#[test]
fn raw_recommendation_runs_only_the_behavior_chain() {
    let mut s = issue_snapshot();
    s["rawRecommendation"] = json!(1);
    s["history"] =
        json!({ "recommendations": [ { "time": "2026-01-01T11:58:00Z", "replicas": 3 } ] });
    let (code, d) = decide_json(&s);
    assert_eq!(code, 0);
    assert!(d["proposals"].as_array().unwrap().is_empty());
    // The 300 s scale-down window still holds 3.
    assert_eq!(d["desiredReplicas"], 3);
    assert_eq!(d["steps"][2]["reason"], "ScaleDownStabilized");
}

#[test]
fn an_inline_policy_is_validated_like_a_policy_file() {
    let cases: [(&str, Value, &str); 4] = [
        (
            "maxReplicas",
            json!(-3),
            "<stdin>: policy.maxReplicas: Invalid value: -3",
        ),
        (
            "minReplicas",
            json!(20),
            "<stdin>: policy.maxReplicas: Invalid value: 10: must be greater than or equal to `minReplicas` (20)",
        ),
        (
            "metrics",
            json!([{ "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 0 } } }]),
            "<stdin>: policy.metrics[0].resource.target.averageUtilization: Invalid value: 0",
        ),
        (
            "behavior",
            json!({ "scaleUp": { "policies": [ { "type": "Pods", "value": 1, "periodSeconds": 0 } ] } }),
            "<stdin>: policy.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 0",
        ),
    ];
    for (field, value, expected) in cases {
        let mut s = issue_snapshot();
        s["policy"][field] = value;
        let out = decide_stdin(&s.to_string(), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{field}: {err}");
        assert!(
            err.contains(expected),
            "{field}: expected {expected:?} in {err}"
        );
        assert!(out.stdout.is_empty(), "{field}: no decision is printed");
    }
    // A target of 0 used to decide 2147483647 replicas.
    let mut s = issue_snapshot();
    s["policy"]["metrics"][3]["external"]["target"]["averageValue"] = json!("0");
    let out = decide_stdin(&s.to_string(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "policy.metrics[3].external.target.averageValue: Invalid value: \"0\": must be positive"
    ));
    // A stream window sliding too finely, as validate refuses it.
    let mut s = issue_snapshot();
    s["policy"]["metrics"][3]["stream"] =
        json!({ "window": "1d", "slide": "1s", "aggregate": "rate" });
    let out = decide_stdin(&s.to_string(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("policy.metrics[3].stream.slide"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn trailing_garbage_after_the_snapshot_is_malformed_input() {
    let s = issue_snapshot().to_string();
    for tail in ["x", "{}", "]", " 1"] {
        let out = decide_stdin(&format!("{s}\n{tail}"), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{tail:?}: {err}");
        assert!(
            err.contains("<stdin>:2:") && err.contains("trailing characters"),
            "{tail:?}: {err}"
        );
    }
    // Whitespace after the document is fine.
    let out = decide_stdin(&format!("{s}\n\n  \n"), &[]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_closed_stdout_is_a_quiet_end_not_a_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalepilot"))
        .args(["decide", "--snapshot", "-"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child
        .stdin
        .take()
        .unwrap()
        .write_all(issue_snapshot().to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn negative_replica_counts_and_nonsense_controller_flags_are_malformed_input() {
    for (field, value, expected) in [
        (
            "currentReplicas",
            json!(-5),
            "currentReplicas: -5: a replica count is never negative",
        ),
        ("statusReplicas", json!(-1), "statusReplicas: -1"),
        ("rawRecommendation", json!(-2), "rawRecommendation: -2"),
    ] {
        let mut s = issue_snapshot();
        s[field] = value;
        let out = decide_stdin(&s.to_string(), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{field}: {err}");
        assert!(err.contains(expected), "{field}: {err}");
    }
    for (field, value) in [
        ("tolerance", json!(-5)),
        ("scaleUpLimitFactor", json!(-3)),
        ("scaleUpLimitFactor", json!(0)),
        ("scaleUpLimitMinimum", json!(-1)),
    ] {
        let mut s = issue_snapshot();
        s["controller"][field] = value;
        let out = decide_stdin(&s.to_string(), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{field}: {err}");
        assert!(
            err.contains(&format!("controller.{field}")),
            "{field}: {err}"
        );
    }
}
