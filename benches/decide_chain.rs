//! The full decision chain for a 100-pod CPU snapshot: grouping, utilization,
//! tolerance, stabilization over a 5-minute history, rate limits and bounds.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;

use scalepilot::decide::decide;
use scalepilot::snapshot;

fn hundred_pod_snapshot() -> String {
    let pods: Vec<_> = (0..100)
        .map(|i| {
            json!({ "name": format!("web-{i}"), "phase": "Running", "ready": true,
                    "startTime": "2026-01-01T10:00:00Z", "readyTransitionTime": "2026-01-01T10:00:20Z",
                    "containers": [ { "name": "app", "requests": { "cpu": "500m" } },
                                    { "name": "proxy", "requests": { "cpu": "100m" } } ] })
        })
        .collect();
    let samples: serde_json::Map<String, serde_json::Value> = (0..100)
        .map(|i| {
            (
                format!("web-{i}"),
                json!({ "value": format!("{}m", 300 + i * 3) }),
            )
        })
        .collect();
    let recommendations: Vec<_> = (0..20)
        .map(|i| json!({ "time": format!("2026-01-01T11:{:02}:{:02}Z", 55 + i / 4, (i % 4) * 15), "replicas": 100 + i }))
        .collect();
    json!({
        "now": "2026-01-01T12:00:00Z",
        "policy": { "minReplicas": 10, "maxReplicas": 500, "metrics": [
            { "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 60 } } } ],
            "behavior": { "scaleDown": { "stabilizationWindowSeconds": 300 } } },
        "currentReplicas": 100,
        "pods": pods,
        "metrics": [ { "type": "Resource", "resource": "cpu", "timestamp": "2026-01-01T11:59:50Z", "pods": samples } ],
        "history": { "recommendations": recommendations,
                     "scaleUpEvents": [ { "time": "2026-01-01T11:59:30Z", "replicas": 10 } ] }
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let snap = snapshot::parse(&hundred_pod_snapshot(), "bench").expect("bench snapshot parses");
    let policy = snap.resolve_policy(None).expect("inline policy");
    let input = snap.to_input(&policy).expect("inputs");
    let first = decide(&input, snap.history.clone());
    assert!(first.error.is_none(), "{:?}", first.error);
    c.bench_function("decide_100_pods_cpu", |b| {
        b.iter(|| decide(black_box(&input), black_box(snap.history.clone())))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
