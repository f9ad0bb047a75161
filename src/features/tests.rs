//! The engine against values computed independently in the tests.

use std::sync::Arc;

use super::*;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z in ms

fn msg(id: Option<&str>, ts: i64, target: &str, metric: &str, value: f64) -> String {
    let id = id.map(|i| format!(r#""id":"{i}","#)).unwrap_or_default();
    format!(
        r#"{{{id}"ts":{ts},"target":"{target}","metric":"{metric}","value":{value},"labels":{{"user":"u{}"}}}}"#,
        (value as i64) % 7
    )
}

fn minute_plan() -> Arc<Plan> {
    Arc::new(Plan::everything(SeriesPlan {
        windows: vec![WindowSpec::tumbling(60_000)],
        distinct_label: Some("user".into()),
        per_pod: false,
        quantiles: true,
    }))
}

/// Folds each message at its index as offset; returns the partition.
fn fold_all(p: &mut Partition, messages: &[String]) {
    for (offset, m) in messages.iter().enumerate() {
        match decode(m.as_bytes(), 1 << 20) {
            Ok(samples) => {
                for (i, s) in samples.iter().enumerate() {
                    let id = identity(s.id.as_deref(), "t", 0, offset as i64, i);
                    p.fold(s, id, offset as i64, T0 + 3_600_000);
                }
            }
            Err(r) => p.reject(r),
        }
    }
}

#[test]
fn without_retention_closed_windows_are_handed_out_once_and_not_kept() {
    let none = EngineConfig {
        retain_closed: 0,
        ..EngineConfig::default()
    };
    let mut kept = Partition::new(EngineConfig::default(), minute_plan());
    let mut taken = Partition::new(none, minute_plan());
    let messages: Vec<String> = (0..600i64)
        .map(|i| {
            msg(
                Some(&format!("s{i}")),
                T0 + i * 500,
                "shop/web",
                "rps",
                (i % 13) as f64,
            )
        })
        .collect();
    fold_all(&mut kept, &messages);
    fold_all(&mut taken, &messages);
    let held = kept.windows();
    assert_eq!(held.len(), 5, "four closed and retained, one open");
    assert_eq!(taken.windows_held(), 1, "only the open window is held");
    let open: Vec<_> = taken.windows();
    assert_eq!(open.len(), 1);
    assert!(!open[0].closed);
    // The closed ones were handed out as they closed, the same as when kept.
    let closed = taken.take_closed();
    assert_eq!(closed, kept.take_closed());
    assert_eq!(closed.len(), 4);
    assert_eq!(closed[..], held[..4]);
}

#[test]
fn windows_equal_independent_sums_and_counts() {
    let mut p = Partition::new(EngineConfig::default(), minute_plan());
    let mut messages = Vec::new();
    let mut expected = std::collections::BTreeMap::<i64, (u64, f64)>::new();
    for i in 0..600i64 {
        let ts = T0 + i * 500; // five minutes of samples every 0.5 s
        let v = (i % 13) as f64;
        messages.push(msg(Some(&format!("s{i}")), ts, "shop/web", "rps", v));
        let e = expected.entry((ts - T0) / 60_000).or_default();
        e.0 += 1;
        e.1 += v;
    }
    fold_all(&mut p, &messages);
    let windows = p.windows();
    assert_eq!(windows.len(), 5);
    for w in &windows {
        let (count, sum) = expected[&((w.window_start - T0) / 60_000)];
        assert_eq!((w.count, w.sum), (count, sum), "{w:?}");
        assert_eq!(w.rate, sum / 60.0);
        assert_eq!(w.distinct, Some(7));
    }
    // The watermark is at the last sample: every window but the last is past it plus 10 s.
    let closed: Vec<bool> = windows.iter().map(|w| w.closed).collect();
    assert_eq!(closed, [true, true, true, true, false]);
    assert_eq!(p.counters.counted, 600);
}

#[test]
fn duplicates_count_once_with_or_without_ids() {
    let mut p = Partition::new(EngineConfig::default(), minute_plan());
    let a = msg(Some("x"), T0, "a/b", "m", 5.0);
    fold_all(
        &mut p,
        &[
            a.clone(),
            a.clone(),
            msg(Some("y"), T0 + 1, "a/b", "m", 1.0),
            a,
        ],
    );
    assert_eq!(p.counters.counted, 2);
    assert_eq!(p.counters.duplicates, 2);
    assert_eq!(p.windows()[0].sum, 6.0);
    // Without ids the position is the identity: the same position twice is a duplicate.
    let text = msg(None, T0 + 2, "a/b", "m", 3.0);
    let s = decode(text.as_bytes(), 1 << 20).unwrap();
    let here = identity(None, "t", 1, 42, 0);
    assert_eq!(p.fold(&s[0], here, 42, T0), Folded::Counted);
    assert_eq!(p.fold(&s[0], here, 42, T0), Folded::Duplicate);
    assert_eq!(
        p.fold(&s[0], identity(None, "t", 1, 43, 0), 43, T0),
        Folded::Counted
    );
}

#[test]
fn late_and_future_samples_are_rejected_and_counted() {
    let mut p = Partition::new(EngineConfig::default(), minute_plan());
    fold_all(&mut p, &[msg(Some("a"), T0 + 60_000, "a/b", "m", 1.0)]);
    // 10 s of lateness is allowed; 10.001 s is not.
    fold_all(
        &mut p,
        &[
            msg(Some("b"), T0 + 50_000, "a/b", "m", 1.0),
            msg(Some("c"), T0 + 49_999, "a/b", "m", 1.0),
        ],
    );
    assert_eq!(p.counters.counted, 2);
    assert_eq!(p.counters.rejected.get(&Rejection::Late), Some(&1));
    let text = msg(Some("f"), T0 + 3_600_000 + 300_001, "a/b", "m", 1.0);
    let s = decode(text.as_bytes(), 1 << 20).unwrap();
    assert_eq!(
        p.fold(&s[0], 1, 9, T0 + 3_600_000),
        Folded::Rejected(Rejection::Future)
    );
}

#[test]
fn malformed_messages_are_counted_and_consumption_continues() {
    let mut p = Partition::new(EngineConfig::default(), minute_plan());
    let garbage = vec![
        "{".to_string(),
        r#"{"ts":1,"target":"a/b","metric":"m","value":"x"}"#.to_string(),
        format!(r#"{{"ts":{T0},"target":"a/b","metric":"m","value":-1}}"#),
        format!(r#"{{"ts":{T0},"target":"","metric":"m","value":1}}"#),
        format!(r#"{{"ts":{T0},"target":"a/b","metric":"m","value":1e400}}"#),
        "x".repeat(2 << 20),
        msg(Some("ok"), T0, "a/b", "m", 4.0),
    ];
    fold_all(&mut p, &garbage);
    let r = &p.counters.rejected;
    assert_eq!(r.get(&Rejection::Parse), Some(&3));
    assert_eq!(r.get(&Rejection::Negative), Some(&1));
    assert_eq!(r.get(&Rejection::EmptyField), Some(&1));
    assert_eq!(r.get(&Rejection::TooLarge), Some(&1));
    assert_eq!(p.counters.counted, 1);
    assert_eq!(p.windows()[0].sum, 4.0);
}

#[test]
fn sliding_windows_hold_each_sample_in_size_over_slide_windows() {
    let plan = Arc::new(Plan::everything(SeriesPlan {
        windows: vec![WindowSpec {
            size_ms: 60_000,
            slide_ms: 5_000,
        }],
        distinct_label: None,
        per_pod: false,
        quantiles: true,
    }));
    let mut p = Partition::new(EngineConfig::default(), plan);
    fold_all(&mut p, &[msg(Some("a"), T0 + 61_000, "a/b", "m", 2.0)]);
    let w = p.windows();
    assert_eq!(w.len(), 12);
    assert_eq!(p.windows_held(), 12);
    assert!(w
        .iter()
        .all(|w| w.window_start <= T0 + 61_000 && T0 + 61_000 < w.window_end && w.sum == 2.0));
    assert!(w.iter().all(|w| w.window_start % 5_000 == 0));
}

#[test]
fn dedupe_state_stays_within_the_lateness_horizon_and_the_ceiling() {
    let mut p = Partition::new(EngineConfig::default(), minute_plan());
    let messages: Vec<String> = (0..20_000i64)
        .map(|i| msg(Some(&format!("k{i}")), T0 + i * 100, "a/b", "m", 1.0))
        .collect();
    fold_all(&mut p, &messages);
    // 10 samples a second, 10 s of lateness plus the current second.
    assert!(p.dedupe_ids() <= 120, "{}", p.dedupe_ids());
    let cfg = EngineConfig {
        max_dedupe_ids: 50,
        ..EngineConfig::default()
    };
    let mut small = Partition::new(cfg, minute_plan());
    let burst: Vec<String> = (0..100i64)
        .map(|i| msg(Some(&format!("b{i}")), T0, "a/b", "m", 1.0))
        .collect();
    fold_all(&mut small, &burst);
    assert_eq!(small.counters.counted, 50);
    assert_eq!(
        small.counters.rejected.get(&Rejection::DedupeFull),
        Some(&50)
    );
    // Redelivered: the counted half are duplicates; the rejected half was
    // never counted, so it is not taken for a duplicate either.
    fold_all(&mut small, &burst);
    assert_eq!(small.counters.counted, 50);
    assert_eq!(small.counters.duplicates, 50);
    assert_eq!(
        small.counters.rejected.get(&Rejection::DedupeFull),
        Some(&100)
    );
}

#[test]
fn only_planned_targets_are_kept_and_closed_windows_are_bounded() {
    let mut plan = Plan::targets(SeriesPlan {
        windows: vec![WindowSpec::tumbling(1_000)],
        distinct_label: None,
        per_pod: false,
        quantiles: true,
    });
    plan.add(
        "shop/web",
        None,
        SeriesPlan {
            windows: vec![WindowSpec::tumbling(1_000)],
            distinct_label: None,
            per_pod: false,
            quantiles: true,
        },
    );
    let mut p = Partition::new(EngineConfig::default(), Arc::new(plan));
    let messages: Vec<String> = (0..100i64)
        .flat_map(|i| {
            [
                msg(Some(&format!("w{i}")), T0 + i * 1000, "shop/web", "m", 1.0),
                msg(Some(&format!("o{i}")), T0 + i * 1000, "other/x", "m", 1.0),
            ]
        })
        .collect();
    fold_all(&mut p, &messages);
    assert_eq!(p.counters.skipped, 100);
    let w = p.windows();
    assert!(w.iter().all(|w| w.target == "shop/web"));
    // 10 closed windows retained, plus the ones still inside the lateness horizon.
    assert_eq!(w.iter().filter(|w| w.closed).count(), 10);
    assert_eq!(w.iter().filter(|w| !w.closed).count(), 11);
    assert_eq!(p.windows_held(), 21);
}

#[test]
fn replaying_with_duplicates_gives_the_same_windows() {
    let messages: Vec<String> = (0..3_000i64)
        .map(|i| {
            msg(
                Some(&format!("r{i}")),
                T0 + i * 37,
                "a/b",
                "m",
                (i % 5) as f64,
            )
        })
        .collect();
    let mut once = Partition::new(EngineConfig::default(), minute_plan());
    fold_all(&mut once, &messages);
    // At-least-once: every message may arrive twice, shortly after the first copy.
    let mut twice_msgs = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        twice_msgs.push(m.clone());
        if i % 3 == 0 {
            twice_msgs.push(m.clone());
        }
    }
    let mut twice = Partition::new(EngineConfig::default(), minute_plan());
    fold_all(&mut twice, &twice_msgs);
    assert_eq!(once.windows(), twice.windows());
    assert_eq!(twice.counters.duplicates, 1000);
}

#[test]
fn plans_and_observations_come_from_the_policies_stream_blocks() {
    let yaml = r#"
apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: web, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 10
  metrics:
  - type: External
    external: {metric: {name: rps}, target: {type: AverageValue, averageValue: '10'}}
    stream: {window: 10s, slide: 5s, aggregate: rate}
  - type: External
    external: {metric: {name: users}, target: {type: Value, value: '100'}}
    stream: {window: 10s, aggregate: distinct, label: user}
"#;
    let policy: crate::policy::ScalingPolicy = serde_saphyr::from_str(yaml).unwrap();
    assert_eq!(target_key(&policy).as_deref(), Some("shop/web"));
    let mut p = Partition::new(
        EngineConfig::default(),
        Arc::new(plan_for(std::slice::from_ref(&policy))),
    );
    let messages: Vec<String> = (0..40i64)
        .flat_map(|i| {
            [
                msg(
                    Some(&format!("r{i}")),
                    T0 + i * 1000,
                    "shop/web",
                    "rps",
                    2.0,
                ),
                msg(
                    Some(&format!("u{i}")),
                    T0 + i * 1000,
                    "shop/web",
                    "users",
                    f64::from(i as i32),
                ),
                msg(
                    Some(&format!("x{i}")),
                    T0 + i * 1000,
                    "shop/other",
                    "rps",
                    2.0,
                ),
            ]
        })
        .collect();
    fold_all(&mut p, &messages);
    assert_eq!(p.counters.skipped, 40, "shop/other is named by no policy");
    let windows = p.windows();
    let obs = observations(&policy.spec, &windows);
    assert_eq!(obs.len(), 2);
    // rate over a closed 10 s window of one 2.0 sample a second: 2 per second.
    assert_eq!(obs[0].values, vec![2000]);
    // users: labels u0..u6 (value mod 7) in every 10 s window.
    assert_eq!(obs[1].values, vec![7000]);
    assert!(obs.iter().all(|o| o.error.is_none()));
    // Before any window closed, the metric is an error for the decision chain.
    let none = observations(&policy.spec, &[]);
    assert!(none[0]
        .error
        .as_deref()
        .unwrap()
        .starts_with("no closed 10s window"));
}

#[test]
fn only_metrics_read_as_a_quantile_keep_a_sketch() {
    let yaml = r#"
apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: web, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 10
  metrics:
  - type: External
    external: {metric: {name: rps}, target: {type: AverageValue, averageValue: '10'}}
    stream: {window: 10s, aggregate: rate}
  - type: External
    external: {metric: {name: latency}, target: {type: Value, value: '100'}}
    stream: {window: 10s, aggregate: p95}
"#;
    let policy: crate::policy::ScalingPolicy = serde_saphyr::from_str(yaml).unwrap();
    let messages: Vec<String> = (0..40i64)
        .flat_map(|i| {
            ["rps", "latency"].map(|m| {
                let id = format!("{m}{i}");
                msg(Some(&id), T0 + i * 1000, "shop/web", m, (i % 10) as f64)
            })
        })
        .collect();
    let closed = |plan: Plan| {
        let mut p = Partition::new(EngineConfig::default(), Arc::new(plan));
        fold_all(&mut p, &messages);
        let windows: Vec<_> = p.windows().into_iter().filter(|w| w.closed).collect();
        let p95 = |metric: &str| -> Vec<Option<f64>> {
            let of = windows.iter().filter(|w| w.metric == metric);
            of.map(|w| w.quantiles.p95).collect()
        };
        (p95("rps"), p95("latency"))
    };
    let (rps, latency) = closed(plan_for(std::slice::from_ref(&policy)));
    assert!(
        !rps.is_empty() && rps.iter().all(Option::is_none),
        "{rps:?}"
    );
    // Values 0..9 in each 10 s window: DDSketch's 95th percentile is the
    // value of rank ⌊0.95 × 9⌋ = 8, to 1 %.
    let near_8 = |q: &Option<f64>| q.is_some_and(|q| (q - 8.0).abs() <= 0.08);
    assert!(!latency.is_empty());
    assert!(latency.iter().all(near_8), "{latency:?}");
    let obs = observations(&policy.spec, &{
        let mut p = Partition::new(EngineConfig::default(), Arc::new(plan_for([&policy])));
        fold_all(&mut p, &messages);
        p.windows()
    });
    assert!(
        !obs[1].values.is_empty() && obs[1].values.iter().all(|v| (7920..=8080).contains(v)),
        "{:?}",
        obs[1]
    );
    // `scalepilot features` shows every quantile.
    let (rps, _) = closed(plan_for(std::slice::from_ref(&policy)).with_quantiles());
    assert!(rps.iter().all(near_8), "{rps:?}");
}

#[test]
fn restoring_a_checkpoint_rebuilds_the_state_exactly() {
    // 20 minutes of samples, 4 a second, with duplicates sprinkled in.
    let mut messages: Vec<String> = Vec::new();
    for i in 0..4_800i64 {
        messages.push(msg(
            Some(&format!("k{i}")),
            T0 + i * 250,
            "a/b",
            "m",
            (i % 9) as f64,
        ));
        if i % 10 == 0 && i > 0 {
            let j = i - 7;
            messages.push(msg(
                Some(&format!("k{j}")),
                T0 + j * 250,
                "a/b",
                "m",
                (j % 9) as f64,
            ));
        }
    }
    let keep_all = EngineConfig {
        retain_closed: 100,
        ..EngineConfig::default()
    };
    let key = |w: &WindowFeatures| (w.window_start, w.window_end);
    for crash_at in [1000usize, 2500, 4000] {
        // The original run, checkpointing at `crash_at`...
        let mut original = Partition::new(keep_all.clone(), minute_plan());
        fold_all(&mut original, &messages[..crash_at]);
        let cp = original.checkpoint(crash_at as i64);
        assert_eq!(
            Checkpoint::from_metadata(cp.offset, &cp.metadata()),
            Some(cp)
        );
        assert!(
            (cp.offset as usize) < crash_at,
            "open windows hold samples before the crash"
        );
        let horizon = original.watermark().unwrap() - 10_000;
        fold_all_from(&mut original, &messages, crash_at);
        let all: std::collections::BTreeMap<_, _> = original
            .windows()
            .into_iter()
            .map(|w| (key(&w), w))
            .collect();
        // ...and a restart that restores the checkpoint and replays from its offset.
        let mut rebuilt = Partition::new(keep_all.clone(), minute_plan());
        rebuilt.restore(&cp);
        fold_all_from(&mut rebuilt, &messages, cp.offset as usize);
        let again = rebuilt.windows();
        // Every window open at the crash comes back whole, and nothing comes back partial.
        assert!(
            again
                .iter()
                .any(|w| w.window_start < horizon && w.window_end > horizon),
            "a window straddles the crash"
        );
        for w in &again {
            assert_eq!(
                Some(w),
                all.get(&key(w)),
                "crash at {crash_at}: rebuilt window differs"
            );
            assert!(
                w.window_end > cp.closed_through.unwrap(),
                "windows closed before the crash are not rebuilt"
            );
        }
        for w in all.values().filter(|w| w.window_end > horizon) {
            assert!(
                again.contains(w),
                "crash at {crash_at}: window {:?} missing after the restart",
                key(w)
            );
        }
        assert_eq!(original.watermark(), rebuilt.watermark());
        assert!(
            rebuilt.counters.replayed > 0,
            "samples of closed windows were replayed and skipped"
        );
    }
}

/// Found by the fuzz harness (`tests/fuzz.rs`, messages): the samples of one
/// message share its offset, and the checkpoint took the watermark of
/// whichever held sample it met first, so a restart could begin past the
/// watermark the message's first sample saw and reject that sample as late.
#[test]
fn a_batch_checkpoints_at_the_watermark_before_its_first_sample() {
    // Two series in one message, the second sample 50 s ahead of the first.
    let batch = format!(
        "[{},{}]",
        msg(None, T0, "a/b", "m", 1.0),
        msg(None, T0 + 50_000, "a/b", "n", 2.0)
    );
    let mut original = Partition::new(EngineConfig::default(), minute_plan());
    fold_all(&mut original, std::slice::from_ref(&batch));
    let cp = original.checkpoint(1);
    assert_eq!((cp.offset, cp.watermark), (0, None), "{cp:?}");
    let mut rebuilt = Partition::new(EngineConfig::default(), minute_plan());
    rebuilt.restore(&cp);
    fold_all(&mut rebuilt, &[batch]);
    assert_eq!(rebuilt.windows(), original.windows());
    assert_eq!(rebuilt.counters.counted, 2);
    // Whichever order the series are visited in.
    let first = Mark {
        offset: 0,
        watermark_before: None,
    };
    let second = Mark {
        offset: 0,
        watermark_before: Some(T0),
    };
    assert_eq!(first.earlier(second), first);
    assert_eq!(second.earlier(first), first);
}

/// Found by the fuzz harness (`tests/fuzz.rs`, messages): the key of a
/// per-pod series was `metric + U+001F + pod`, so a metric named that way
/// folded into the pod's series (or the pod's samples into it).
#[test]
fn a_metric_name_cannot_pose_as_a_per_pod_series() {
    let plan = Arc::new(Plan::everything(SeriesPlan {
        windows: vec![WindowSpec::tumbling(60_000)],
        distinct_label: None,
        per_pod: true,
        quantiles: true,
    }));
    let mut p = Partition::new(EngineConfig::default(), plan);
    let messages = [
        format!(r#"{{"ts":{T0},"target":"a/b","metric":"m\u001fweb-0","value":1}}"#),
        format!(r#"{{"ts":{T0},"target":"a/b","metric":"m","value":2,"pod":"web-0"}}"#),
        format!(r#"{{"ts":{T0},"target":"a/b","metric":"m","value":4}}"#),
    ];
    fold_all(&mut p, &messages);
    assert_eq!(p.series_count(), 3);
    let mut sums: Vec<(String, Option<String>, f64)> = p
        .windows()
        .into_iter()
        .map(|w| (w.metric, w.pod, w.sum))
        .collect();
    sums.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(
        sums,
        [
            ("m".to_string(), None, 4.0),
            ("m".to_string(), Some("web-0".to_string()), 2.0),
            ("m\u{1f}web-0".to_string(), None, 1.0),
        ]
    );
}

fn fold_all_from(p: &mut Partition, messages: &[String], from: usize) {
    for (offset, m) in messages.iter().enumerate().skip(from) {
        let samples = decode(m.as_bytes(), 1 << 20).unwrap();
        for (i, s) in samples.iter().enumerate() {
            let id = identity(s.id.as_deref(), "t", 0, offset as i64, i);
            p.fold(s, id, offset as i64, T0 + 3_600_000);
        }
    }
}

#[test]
fn per_pod_metrics_are_windowed_per_pod_and_observed_as_pod_samples() {
    let yaml = r#"
apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: api, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: api}
  maxReplicas: 10
  metrics:
  - type: Pods
    pods: {metric: {name: inflight}, target: {type: AverageValue, averageValue: '5'}}
    stream: {window: 10s, aggregate: mean}
"#;
    let policy: crate::policy::ScalingPolicy = serde_saphyr::from_str(yaml).unwrap();
    let mut p = Partition::new(
        EngineConfig::default(),
        Arc::new(plan_for(std::slice::from_ref(&policy))),
    );
    let sample = |i: i64, pod: &str, v: f64| {
        format!(
            r#"{{"id":"{pod}-{i}","ts":{},"target":"shop/api","metric":"inflight","value":{v},"pod":"{pod}"}}"#,
            T0 + i * 1000
        )
    };
    let messages: Vec<String> = (0..30)
        .flat_map(|i| [sample(i, "api-a", 4.0), sample(i, "api-b", 8.0)])
        .collect();
    fold_all(&mut p, &messages);
    let windows = p.windows();
    assert!(
        windows.iter().all(|w| w.pod.is_some()),
        "every window belongs to one pod"
    );
    let obs = observations(&policy.spec, &windows);
    assert_eq!(obs.len(), 1);
    let pods = &obs[0].pods;
    assert_eq!(pods.len(), 2);
    assert_eq!(pods["api-a"].value, Some(4000));
    assert_eq!(pods["api-b"].value, Some(8000));
    assert_eq!(
        pods["api-a"].timestamp.timestamp_millis(),
        T0 + 10_000,
        "the latest closed window ends at 10 s"
    );
    assert!(obs[0].error.is_none());
}

#[test]
fn event_times_out_of_range_are_rejected_with_their_reason() {
    let mut p = Partition::new(EngineConfig::default(), minute_plan());
    // The poison message of issue 16 as a partition's first sample: window
    // alignment of i64::MIN used to wrap and never end.
    let poison = [
        r#"{"ts":-9223372036854775808,"target":"a/b","metric":"m","value":1}"#.to_string(),
        r#"{"ts":1,"target":"a/b","metric":"m","value":1}"#.to_string(),
        r#"{"ts":"1999-12-31T23:59:59.999Z","target":"a/b","metric":"m","value":1}"#.to_string(),
        r#"{"ts":9223372036854775807,"target":"a/b","metric":"m","value":1}"#.to_string(),
        msg(Some("ok"), T0, "a/b", "m", 4.0),
    ];
    fold_all(&mut p, &poison);
    let r = &p.counters.rejected;
    assert_eq!(r.get(&Rejection::Before2000), Some(&3), "{r:?}");
    assert_eq!(r.get(&Rejection::Future), Some(&1), "{r:?}");
    assert_eq!(Rejection::Before2000.label(), "before_2000");
    assert_eq!(p.counters.counted, 1);
    assert_eq!(
        p.watermark(),
        Some(T0),
        "rejected times never move the watermark"
    );
    assert_eq!(p.windows()[0].sum, 4.0);
    // A checkpoint of any watermark, even one restored from garbage, does not overflow.
    let mut q = Partition::new(EngineConfig::default(), minute_plan());
    q.restore(&Checkpoint {
        offset: 0,
        watermark: Some(i64::MIN),
        closed_through: None,
    });
    fold_all(&mut q, &[msg(Some("ok"), T0, "a/b", "m", 1.0)]);
    assert_eq!(q.checkpoint(1).closed_through, Some(T0 - 10_000));
}

#[test]
fn idle_series_are_evicted_and_the_series_limit_has_its_own_reason() {
    let cfg = EngineConfig {
        max_series: 3,
        ..EngineConfig::default()
    };
    let mut p = Partition::new(cfg, minute_plan());
    let pods: Vec<String> = (0..4)
        .map(|i| msg(Some(&format!("p{i}")), T0, "a/b", &format!("m{i}"), 1.0))
        .collect();
    fold_all(&mut p, &pods);
    assert_eq!(p.counters.counted, 3);
    assert_eq!(
        p.counters.rejected.get(&Rejection::SeriesLimit),
        Some(&1),
        "{:?}",
        p.counters.rejected
    );
    assert_eq!(p.counters.rejected.get(&Rejection::DedupeFull), None);
    assert_eq!(Rejection::SeriesLimit.label(), "series_limit");
    // Series m0..m2 stop; m0 goes on. After three 60 s windows, twice the 10 s
    // lateness and 10 s more of event time, m1 and m2 are idle: evicted.
    let idle = super::engine::idle_eviction_ms(60_000, 10_000);
    assert_eq!(idle, 210_000);
    let go_on: Vec<String> = (1..=21)
        .map(|k| msg(Some(&format!("g{k}")), T0 + k * 10_000, "a/b", "m0", 1.0))
        .collect();
    fold_all(&mut p, &go_on);
    p.windows();
    assert_eq!(p.series_count(), 3, "idle for exactly the limit: kept");
    // A full table sweeps for idle series at most once a second of event time.
    let later = T0 + idle + 1_000;
    fold_all(
        &mut p,
        &[
            msg(Some("g22"), later, "a/b", "m0", 1.0),
            msg(Some("new"), later, "a/b", "m9", 1.0),
            msg(Some("new2"), later, "a/b", "m8", 1.0),
        ],
    );
    assert_eq!(p.series_count(), 3, "m1 and m2 evicted, m8 and m9 in");
    assert_eq!(p.counters.rejected.get(&Rejection::SeriesLimit), Some(&1));
    let metrics: std::collections::BTreeSet<String> =
        p.windows().into_iter().map(|w| w.metric).collect();
    assert_eq!(metrics.into_iter().collect::<Vec<_>>(), ["m0", "m8", "m9"]);
}
