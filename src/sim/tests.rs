//! Replays with hand-computed scores and the invariants every replay must keep.

use super::*;
use crate::decide::{scale_up_limit, Decision, History};
use crate::policy::{PolicySpec, ResolvedBehavior};

fn spec(yaml: &str) -> PolicySpec {
    serde_saphyr::from_str(yaml).expect("test policy parses")
}

fn policy(name: &str, yaml: &str) -> NamedPolicy {
    NamedPolicy {
        name: name.into(),
        spec: spec(yaml),
        forecast: None,
    }
}

const STREAM: &str = "{minReplicas: 1, maxReplicas: 1000, metrics: [{type: External, external: {metric: {name: load}, target: {type: AverageValue, averageValue: '80'}}}], behavior: {scaleDown: {stabilizationWindowSeconds: 120}}}";

fn flat(values: &[(i64, f64)]) -> Trace {
    Trace::new(
        "hand".into(),
        values.iter().map(|v| v.0).collect(),
        values.iter().map(|v| v.1).collect(),
    )
    .unwrap()
}

fn cfg(capacity: f64) -> SimConfig {
    SimConfig {
        capacity: Capacity::PerReplica(capacity),
        ..SimConfig::default()
    }
}

#[test]
fn oracle_scores_of_a_hand_made_trace() {
    // 250 units for an hour, then 450 for an hour, capacity 100 per replica,
    // held steps: the oracle runs 3 then 5 replicas; the two extra pods are
    // created 30 s early. Cost = 3 h·1 + 5 h·1 + 2 × 30 s.
    let trace = flat(&[(0, 250.0), (3600, 450.0)]);
    let mut c = cfg(100.0);
    c.interpolation = Interpolation::Step;
    c.baselines = vec![Baseline::Oracle];
    let out = run(trace, &[], &c, |_, _, _| {}).unwrap();
    let o = &out.replays.last().unwrap().score;
    assert_eq!(o.name, "oracle");
    assert!(
        (o.replica_hours - (3.0 + 5.0 + 60.0 / 3600.0)).abs() < 1e-9,
        "{}",
        o.replica_hours
    );
    assert_eq!(o.under_provisioned_pct, 0.0);
    assert_eq!(o.unserved_pct, 0.0);
    // Utilization: 250/300 for the first hour, 450/500 for the second.
    assert!((o.mean_utilization_pct - 100.0 * (250.0 / 300.0 + 0.9) / 2.0).abs() < 1e-6);
    assert_eq!(o.scale_actions, 1);
    assert_eq!(o.reaction_s, Some(0));
}

#[test]
fn a_late_autoscaler_is_under_provisioned_for_its_lag() {
    // A step from 100 to 300 units at t=600 (capacity 100, target 80 per replica):
    // the policy sees it 10 s late (metric delay), decides on the next 5 s tick,
    // and its pods are ready 30 s later: 40 s short of capacity.
    let trace = flat(&[(0, 100.0), (600, 300.0), (1200, 300.0)]);
    let mut c = cfg(100.0);
    c.interpolation = Interpolation::Step;
    c.baselines = vec![Baseline::Oracle];
    let out = run(trace, &[policy("stream", STREAM)], &c, |_, _, _| {}).unwrap();
    let p = &out.replays[0].score;
    // Under-provisioned from 600 to 640 out of 1800 s.
    assert!(
        (p.under_provisioned_pct - 100.0 * 40.0 / 1800.0).abs() < 1e-9,
        "{p:?}"
    );
    assert_eq!(p.reaction_s, Some(40));
    // Starts with the 1 replica the load needs, which the policy (target 80
    // per replica) raises to 2 at once; then 300/80 → 4 once it sees the step.
    assert_eq!(out.replays[0].actions, vec![(0, 2), (610, 4)]);
    assert_eq!(p.scale_actions, 2);
    // Unserved: 40 s × (300 − 200) of 600×100 + 1200×300 total.
    let total = 600.0 * 100.0 + 1200.0 * 300.0;
    assert!(
        (p.unserved_pct - 100.0 * 4000.0 / total).abs() < 1e-9,
        "{}",
        p.unserved_pct
    );
}

#[test]
fn flaps_count_reversals_within_five_minutes() {
    // Up at 300, down at 400 (stabilization 0 for scale-down), up at 500.
    let quick = "{minReplicas: 1, maxReplicas: 100, metrics: [{type: External, external: {metric: {name: load}, target: {type: AverageValue, averageValue: '100'}}}], behavior: {scaleDown: {stabilizationWindowSeconds: 0}}}";
    let trace = flat(&[
        (0, 100.0),
        (300, 400.0),
        (400, 100.0),
        (500, 400.0),
        (600, 400.0),
    ]);
    let mut c = cfg(100.0);
    c.interpolation = Interpolation::Step;
    c.metric_delay_s = 0;
    c.baselines = vec![];
    let out = run(trace, &[policy("quick", quick)], &c, |_, _, _| {}).unwrap();
    let s = &out.replays[0].score;
    assert_eq!(out.replays[0].actions, vec![(300, 4), (400, 1), (500, 4)]);
    assert_eq!(s.scale_actions, 3);
    assert_eq!(s.flaps, 2);
}

/// Every replay's decisions keep the policy's promises.
struct Invariants<'a> {
    min: i32,
    max: i32,
    behavior: Option<ResolvedBehavior<'a>>,
    down_window_s: i64,
    history: History,
    current: Option<i32>,
    checked: usize,
}

impl<'a> Invariants<'a> {
    fn new(spec: &'a PolicySpec) -> Self {
        let behavior = spec.resolved_behavior();
        let down_window_s = behavior
            .as_ref()
            .and_then(|b| b.scale_down.stabilization_window_s)
            .map_or(300, i64::from);
        Invariants {
            min: spec.min_replicas(),
            max: spec.max_replicas,
            behavior,
            down_window_s,
            history: History::default(),
            current: None,
            checked: 0,
        }
    }

    fn check(&mut self, t: i64, d: &Decision) {
        let now = crate::decide::Time::from_timestamp(t, 0).unwrap();
        let current = d.current_replicas;
        let desired = d.desired_replicas;
        assert!(
            (self.min..=self.max).contains(&desired),
            "{desired} outside [{}, {}] at {t}",
            self.min,
            self.max
        );
        if let Some(prev) = self.current {
            assert_eq!(prev, current, "the replay applies every decision");
        }
        if let Some(b) = &self.behavior {
            if desired > current {
                let limit = scale_up_limit(current, &self.history, &b.scale_up, now).max(current);
                assert!(
                    desired <= limit,
                    "scale-up to {desired} beyond the policy's limit {limit} at {t}"
                );
            }
            if desired < current {
                let cutoff = now - chrono::Duration::seconds(self.down_window_s);
                let floor = d
                    .history
                    .recommendations()
                    .iter()
                    .filter(|r| r.time > cutoff)
                    .map(|r| r.replicas)
                    .max()
                    .unwrap_or(0);
                assert!(
                    desired >= floor.min(current),
                    "scale-down to {desired} below the stabilized {floor} at {t}"
                );
            }
        }
        self.history = d.history.clone();
        self.current = Some(desired);
        self.checked += 1;
    }
}

fn replay_with_invariants(trace: Trace, policy_yaml: &str, c: &SimConfig) -> Outcome {
    let p = policy("under-test", policy_yaml);
    let watched = p.spec.clone();
    let mut inv = Invariants::new(&watched);
    let out = run(trace, std::slice::from_ref(&p), c, |name, t, d| {
        if name == "under-test" {
            inv.check(t, d);
        }
    })
    .unwrap();
    assert!(inv.checked > 0);
    let oracle = out.replays.last().unwrap();
    assert_eq!(oracle.score.name, "oracle");
    assert_eq!(
        oracle.score.under_provisioned_pct, 0.0,
        "{}: the oracle never runs short",
        out.trace.name
    );
    for r in &out.replays {
        assert!(
            oracle.score.replica_hours <= r.score.replica_hours + 1e-9,
            "{}: {} is cheaper than the oracle ({} < {})",
            out.trace.name,
            r.score.name,
            r.score.replica_hours,
            oracle.score.replica_hours
        );
    }
    out
}

#[test]
fn every_synthetic_workload_keeps_the_invariants() {
    for w in Workload::ALL {
        let out =
            replay_with_invariants(w.generate(3, 6 * 3600, 60), STREAM, &SimConfig::default());
        assert_eq!(out.replays.len(), 4, "{w}: policy, hpa, keda, oracle");
        let hpa = &out.replays[1].score;
        assert_eq!(hpa.name, "hpa");
        assert!(hpa.replica_hours > 0.0);
    }
}

#[test]
fn the_stream_policy_reacts_faster_than_the_hpa_to_a_flash_crowd() {
    let out = replay_with_invariants(
        Workload::FlashCrowd.generate(42, 86_400, 60),
        STREAM,
        &SimConfig::default(),
    );
    let (policy, hpa) = (&out.replays[0].score, &out.replays[1].score);
    assert!(
        policy.unserved_pct < hpa.unserved_pct,
        "{policy:?} vs {hpa:?}"
    );
    assert!(policy.reaction_s.unwrap_or(i64::MAX) < hpa.reaction_s.unwrap_or(i64::MAX));
}

#[test]
fn shared_traces_replay_within_the_invariants() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/traces");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "SKIPPED shared_traces_replay_within_the_invariants: {} is absent",
            dir.display()
        );
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no CSV trace", dir.display());
    let c = SimConfig {
        step_s: 5,
        ..SimConfig::default()
    };
    for f in files {
        let trace = Trace::from_csv_file(&f).unwrap();
        let out = replay_with_invariants(trace, STREAM, &c);
        eprintln!(
            "{}: {:?}",
            f.display(),
            out.replays
                .iter()
                .map(|r| (&r.score.name, r.score.cost_vs_oracle))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn capacity_parsing() {
    assert_eq!("auto:20".parse::<Capacity>(), Ok(Capacity::Auto(20)));
    assert_eq!("12.5".parse::<Capacity>(), Ok(Capacity::PerReplica(12.5)));
    assert!("auto:0".parse::<Capacity>().is_err());
    assert!("-1".parse::<Capacity>().is_err());
    assert!("auto:x".parse::<Capacity>().is_err());
}

/// Ten days of a daily jump from 100 to 600 units at 60 s steps: a model
/// trained on the first seven, the replay of the last three, and a policy
/// forecasting with the model (warmed up on the first seven).
fn daily_jump_predictive() -> (NamedPolicy, Trace) {
    use crate::model::{dataset, train, FeatureSpec, ModelFile, Series, TrainingSummary};
    let day = 1440usize;
    let load = |k: usize| {
        if (600..900).contains(&(k % day)) {
            600.0
        } else {
            100.0
        }
    };
    let values: Vec<f64> = (0..10 * day).map(load).collect();
    let ts: Vec<i64> = (0..values.len() as i64).map(|k| k * 60).collect();
    let spec = FeatureSpec::new(60, 5);
    let d = dataset(
        &spec,
        &[Series {
            t0: 0,
            values: &values[..7 * day],
        }],
    );
    let t = train(&d, &spec, || {}).unwrap();
    let rows = d.rows.len();
    let model = ModelFile::new(
        t,
        spec,
        TrainingSummary {
            sources: vec![],
            hash: String::new(),
            start: 0,
            end: 0,
            interval_s: 60,
            samples: 0,
            rows,
        },
    );
    let past: Vec<(i64, f64)> = ts[..7 * day]
        .iter()
        .copied()
        .zip(values[..7 * day].iter().copied())
        .collect();
    let replayed = Trace::new(
        "ramp".into(),
        ts[7 * day..].to_vec(),
        values[7 * day..].to_vec(),
    )
    .unwrap();
    let mut predictive = policy("predictive", STREAM);
    predictive.forecast = Some(ForecastSetup {
        model: crate::model::PolicyModel {
            model: std::sync::Arc::new(model),
            mode: crate::policy::ForecastMode::Max,
            max_mape_percent: 30.0,
            gate_window_s: 3600,
            relax_targets_percent: 0.0,
            relax: crate::policy::RelaxTargets::Fixed,
            label: "ramp model".into(),
        },
        scale: 1.0,
        warmup: std::sync::Arc::new(past),
        perfect: false,
    });
    (predictive, replayed)
}

#[test]
fn a_predictive_policy_scales_ahead_of_a_daily_jump_and_says_why() {
    let (predictive, replayed) = daily_jump_predictive();
    assert!(predictive
        .forecast
        .as_ref()
        .unwrap()
        .model
        .model
        .daily_cycle
        .detected());
    let reactive = policy("reactive", STREAM);
    let mut c = cfg(100.0);
    c.baselines = vec![];
    c.explain = true;
    c.perfect_forecast = true;
    let mut ahead = 0;
    let out = run(replayed, &[reactive, predictive], &c, |name, _, d| {
        if name == "predictive"
            && d.steps
                .iter()
                .any(|s| s.reason == "ForecastAhead" && s.message.contains("ramp model"))
        {
            ahead += 1;
        }
    })
    .unwrap();
    let (r, p) = (&out.replays[0].score, &out.replays[1].score);
    assert!(ahead > 0, "no decision was made ahead of load");
    assert_eq!(r.forecast_trusted_pct, None);
    // The what-if twin: the true peak ahead, always trusted, covers the ramp.
    let perfect = &out.replays[2].score;
    assert_eq!(perfect.name, "predictive-perfect");
    assert_eq!(perfect.forecast_trusted_pct, Some(100.0));
    assert!(
        perfect.under_provisioned_pct <= p.under_provisioned_pct,
        "perfect {} % vs model {} % under-provisioned",
        perfect.under_provisioned_pct,
        p.under_provisioned_pct
    );
    let trusted = p
        .forecast_trusted_pct
        .expect("a predictive policy reports its gate");
    assert!(
        trusted > 0.0 && trusted < 100.0,
        "the gate starts closed, then trusts the model: {trusted} %"
    );
    assert!(
        p.under_provisioned_pct < r.under_provisioned_pct,
        "predictive {} % vs reactive {} % under-provisioned",
        p.under_provisioned_pct,
        r.under_provisioned_pct
    );
}

#[test]
fn a_model_whose_training_data_had_no_daily_cycle_is_never_acted_on() {
    let (mut predictive, replayed) = daily_jump_predictive();
    let setup = &mut predictive.forecast.as_mut().unwrap().model;
    let mut model = (*setup.model).clone();
    model.daily_cycle.strength = Some(0.1);
    setup.model = std::sync::Arc::new(model);
    let mut c = cfg(100.0);
    c.baselines = vec![];
    c.explain = true;
    let mut said = 0;
    let out = run(
        replayed,
        &[policy("reactive", STREAM), predictive],
        &c,
        |name, _, d| {
            if name == "predictive" {
                assert!(
                    !d.steps.iter().any(|s| s.reason == "ForecastAhead"),
                    "acted on a forecast"
                );
                if d.steps.iter().any(|s| {
                    s.message
                        .contains("no daily cycle in the training data (0.10")
                        && s.message.contains("ramp model")
                }) {
                    said += 1;
                }
            }
        },
    )
    .unwrap();
    let (r, p) = (&out.replays[0].score, &out.replays[1].score);
    assert!(said > 0, "the reasons never said why the forecast was idle");
    assert_eq!(p.forecast_trusted_pct, Some(0.0));
    assert_eq!(
        (p.replica_hours, p.under_provisioned_pct),
        (r.replica_hours, r.under_provisioned_pct),
        "the policy is the reactive one"
    );
}

#[test]
fn scale_to_zero_saves_the_idle_hours_and_load_at_zero_waits_for_the_first_pod() {
    // 50 units for an hour, nothing for two, 50 again for an hour (step).
    let trace = flat(&[(0, 50.0), (3600, 0.0), (10_800, 50.0), (14_400, 50.0)]);
    let mut c = cfg(100.0);
    c.interpolation = Interpolation::Step;
    c.baselines = Vec::new();
    let to_zero = STREAM.replace(
        "minReplicas: 1",
        "minReplicas: 0, activation: {cooldownSeconds: 300}",
    );
    let mut zero_at = None;
    let out = run(
        trace,
        &[policy("zero", &to_zero), policy("one", STREAM)],
        &c,
        |name, t, d| {
            if name == "zero" && d.desired_replicas == 0 && zero_at.is_none() {
                zero_at = Some(t);
            }
        },
    )
    .unwrap();
    let (zero, one) = (&out.replays[0].score, &out.replays[1].score);
    // Idle from 3600 (seen 10 s later); zero after the 300 s cooldown.
    let z = zero_at.expect("it reaches zero");
    assert!((3900..=3920).contains(&z), "zero at {z}");
    // At zero for the rest of the idle time: two hours less about 5 minutes.
    let saved = one.replica_hours - zero.replica_hours;
    assert!((1.85..1.95).contains(&saved), "saved {saved} replica-h");
    // The load that returns at 10 800 is unserved until the first pod is
    // ready: the 10 s metric delay, the tick then due and 30 s of start-up,
    // out of 18 000 s (the last sample holds for the trace's 3600 s step).
    let short_s = zero.under_provisioned_pct / 100.0 * 18_000.0;
    assert!((39.9..=45.1).contains(&short_s), "short {short_s} s");
    assert_eq!(one.under_provisioned_pct, 0.0);
}

#[test]
fn burst_mode_meets_a_flash_crowd_the_rate_limit_would_hold_back() {
    // 100 units, then 600 from t=600 for 40 minutes (capacity 100, target 80).
    let trace = flat(&[(0, 100.0), (600, 600.0), (3000, 600.0)]);
    let mut c = cfg(100.0);
    c.interpolation = Interpolation::Step;
    c.baselines = Vec::new();
    let slow = STREAM.replace(
        "behavior: {scaleDown:",
        "behavior: {scaleUp: {policies: [{type: Pods, value: 1, periodSeconds: 60}]}, scaleDown:",
    );
    let burst = slow.replace("minReplicas: 1,", "minReplicas: 1, burst: {threshold: 2},");
    let mut reasons = Vec::new();
    let out = run(
        trace,
        &[policy("slow", &slow), policy("burst", &burst)],
        &c,
        |name, _, d| {
            if name == "burst" {
                reasons.extend(
                    d.steps
                        .iter()
                        .filter(|s| s.step == "burst")
                        .map(|s| s.reason),
                );
            }
        },
    )
    .unwrap();
    let (slow, burst) = (&out.replays[0].score, &out.replays[1].score);
    // The slow policy adds one pod a minute from 2 (six cover the load); burst goes at once.
    assert!(slow.reaction_s.unwrap() > 180, "{slow:?}");
    assert_eq!(burst.reaction_s, Some(40), "{burst:?}");
    assert!(burst.under_provisioned_pct < slow.under_provisioned_pct / 5.0);
    assert!(reasons.contains(&"BurstScaleUp"), "{reasons:?}");
}
