//! Replay speed: one week of 1-second samples through the simulator.
//! - `bookkeeping`: load interpolation, pods, capacity and scoring, one decision a week;
//! - `decisions_every_5s` / `_1s`: the same with a decision every 5 s (the default
//!   tick) or every second on one External metric (a 300 s stabilization window);
//! - `decide_external`: the decision chain alone for that policy.

use std::borrow::Cow;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

use scalepilot::decide::{decide, ControllerConfig, DecisionInput, History, Observation, Time};
use scalepilot::policy::{MetricSourceType, PolicySpec};
use scalepilot::sim::{replay, Autoscaler, Interpolation, Workload, World};

const WEEK: i64 = 7 * 86_400;

fn stream_policy() -> PolicySpec {
    serde_saphyr::from_str("{minReplicas: 1, maxReplicas: 1000, metrics: [{type: External, external: {metric: {name: load}, target: {type: AverageValue, averageValue: '80'}}}], behavior: {scaleDown: {stabilizationWindowSeconds: 300}}}")
        .expect("bench policy parses")
}

fn bench(c: &mut Criterion) {
    let trace = Workload::Diurnal.generate(1, WEEK, 1).scaled(2.0);
    let world = World {
        capacity: 100.0,
        startup_s: 30,
        step_s: 1,
        interpolation: Interpolation::Linear,
        sample_window_s: 30,
        explain: false,
    };
    let autoscaler = |tick_s: i64| Autoscaler {
        name: "stream".into(),
        spec: stream_policy(),
        controller: ControllerConfig::default(),
        tick_s,
        metric_delay_s: 10,
        poll_s: None,
        cooldown_s: None,
        forecast: None,
    };
    let mut g = c.benchmark_group("replay_week_1s");
    g.sample_size(10);
    g.throughput(Throughput::Elements(trace.ts.len() as u64));
    let weekly = autoscaler(WEEK);
    g.bench_function("bookkeeping", |b| {
        b.iter(|| replay(black_box(&trace), &world, &weekly, None, |_, _| {}))
    });
    let default_tick = autoscaler(5);
    g.bench_function("decisions_every_5s", |b| {
        b.iter(|| replay(black_box(&trace), &world, &default_tick, None, |_, _| {}))
    });
    let every_second = autoscaler(1);
    g.bench_function("decisions_every_1s", |b| {
        b.iter(|| replay(black_box(&trace), &world, &every_second, None, |_, _| {}))
    });
    g.finish();

    let policy = stream_policy();
    let mut input = DecisionInput {
        now: Time::from_timestamp(1_767_225_600, 0).expect("valid time"),
        policy: &policy,
        controller: ControllerConfig::default(),
        current_replicas: 10,
        status_replicas: 10,
        pods: Cow::Owned(Vec::new()),
        observations: vec![Observation {
            source_type: MetricSourceType::External,
            name: "load".into(),
            pods: Default::default(),
            value: None,
            values: vec![1_000_000],
            error: None,
        }],
        raw_recommendation: None,
        explain: false,
        forecast: None,
        burst: Vec::new(),
    };
    let mut history = History::default();
    c.bench_function("decide_external", |b| {
        b.iter(|| {
            // One decision a second, as in a replay: the history stays bounded by the windows.
            input.now += chrono::Duration::seconds(1);
            let mut d = decide(black_box(&input), std::mem::take(&mut history));
            history = std::mem::take(&mut d.history);
            d.desired_replicas
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
