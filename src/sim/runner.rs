//! One replay of one autoscaler: step through the trace with a manual clock,
//! feed the lagged metric to the decision chain every tick (the same `decide`
//! the live controller calls, with the history it keeps), apply the decision to
//! the simulated Deployment, and score every step.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use super::cluster::{Deployment, CPU_REQUEST_MILLI};
use super::load::{peak_in, Interpolation, LoadCursor};
use super::score::{Rise, ScoreKeeper, Scorecard};
use super::trace::Trace;
use crate::decide::{
    decide, ControllerConfig, Decision, DecisionInput, History, Observation, Pod, PodSample, Time,
};
use crate::policy::{MetricSourceType, MetricSpec, PolicySpec};

/// The simulated world, shared by every autoscaler of a run.
#[derive(Clone, Debug)]
pub struct World {
    /// Load units one ready replica serves.
    pub capacity: f64,
    /// Seconds from pod creation to readiness.
    pub startup_s: i64,
    /// Simulation step, seconds.
    pub step_s: i64,
    pub interpolation: Interpolation,
    /// The window of CPU samples (metrics-server's scrape window).
    pub sample_window_s: i64,
    /// Decisions spell out their messages (for a decision record).
    pub explain: bool,
}

/// An autoscaler driven by the decision chain.
#[derive(Clone, Debug)]
pub struct Autoscaler {
    pub name: String,
    pub spec: PolicySpec,
    pub controller: ControllerConfig,
    /// Seconds between decisions.
    pub tick_s: i64,
    /// Age of the metric when the decision reads it.
    pub metric_delay_s: i64,
    /// KEDA-style: the metric is read every `poll_s` seconds and held in between.
    pub poll_s: Option<i64>,
    /// KEDA-style: after this long without load, go straight to the minimum.
    pub cooldown_s: Option<i64>,
    /// A predictive policy's model.
    pub forecast: Option<ForecastSetup>,
}

/// A policy's forecast in a replay.
#[derive(Clone, Debug)]
pub struct ForecastSetup {
    pub model: crate::model::PolicyModel,
    /// Trace units per model unit (the run may rescale the trace).
    pub scale: f64,
    /// The trace before the replayed part, in model units: the model's past.
    pub warmup: std::sync::Arc<Vec<(i64, f64)>>,
    /// What-if: the true peak of the load over the model's horizon (read
    /// ahead in the trace, as only a replay can) replaces the forecast and is
    /// always trusted: the most any forecast could add to this policy.
    pub perfect: bool,
}

/// What one replay produced.
#[derive(Clone, Debug)]
pub struct Replay {
    pub score: Scorecard,
    /// Ready capacity (load units) at each change: (time, capacity).
    pub capacity: Vec<(i64, f64)>,
    /// Scale actions: (time, new replica count).
    pub actions: Vec<(i64, i32)>,
    /// Under-provisioned intervals `[from, to)`: ready capacity below the load.
    pub short: Vec<(i64, i64)>,
}

fn time(t: i64) -> Time {
    Time::from_timestamp(t, 0).unwrap_or_default()
}

/// The replica count that exactly covers `load`, within bounds.
pub fn needed(load: f64, capacity: f64, min: i32, max: i32) -> i32 {
    let n = (load / capacity * (1.0 - 1e-12)).ceil();
    (n.max(0.0) as i32).clamp(min, max.max(min))
}

/// Replays `trace` through `a`; `on_decision` sees every decision.
pub fn replay(
    trace: &Trace,
    world: &World,
    a: &Autoscaler,
    rise: Option<Rise>,
    mut on_decision: impl FnMut(i64, &Decision),
) -> Replay {
    let (start, end) = (trace.start(), trace.end());
    let mut load = LoadCursor::new(trace, world.interpolation);
    let min = a.spec.min_replicas();
    let initial = needed(
        load.at(start),
        world.capacity,
        min.max(1),
        a.spec.max_replicas,
    );
    let mut deploy = Deployment::new(initial, world.startup_s, start);
    let mut desired = initial;
    let mut history = History::default();
    let mut keeper = ScoreKeeper::new(world.capacity, world.step_s, rise);
    let mut capacity = Vec::new();
    let mut lag: VecDeque<(i64, f64, usize)> = VecDeque::new();
    let mut polled: Option<(f64, usize, i64)> = None;
    let mut last_active = start;
    let metrics = a.spec.effective_metrics();
    let needs_pods = metrics.iter().any(|m| !is_average_value_total(m));
    // The forecaster and its gate see the trace before the replay as the
    // controller would have, had it run then: the replay starts in stride.
    let mut forecaster = a.forecast.as_ref().map(|f| {
        let mut rf = crate::model::RunningForecast::new(f.model.clone());
        for &(t, v) in f.warmup.iter() {
            rf.observe(t, v);
        }
        (rf, f.scale, f.perfect)
    });
    // Whether the last decision acted on a forecast (made and not gated).
    let mut forecast_acting = false;

    let mut t = start;
    while t < end {
        let l = load.at(t);
        // What the metrics pipeline measures now; decisions read it `metric_delay_s` later.
        lag.push_back((t, l, deploy.ready_at(t)));
        if (t - start) % a.tick_s == 0 {
            // The metric as it was `metric_delay_s` ago (or at the last poll).
            while lag.len() > 1 && lag[1].0 <= t - a.metric_delay_s {
                lag.pop_front();
            }
            let &(seen_t, lagged_load, lagged_ready) =
                lag.front().expect("the current step was just pushed");
            let (seen_load, seen_ready) = match a.poll_s {
                None => (lagged_load, lagged_ready),
                Some(poll) => {
                    if polled.is_none_or(|(_, _, at)| t - at >= poll) {
                        polled = Some((lagged_load, lagged_ready, t));
                    }
                    polled.map_or((lagged_load, lagged_ready), |(pl, pr, _)| (pl, pr))
                }
            };
            if seen_load > 0.0 {
                last_active = t;
            }
            let current = desired;
            let next = match a.cooldown_s {
                Some(c) if t - last_active >= c && current > min => min,
                _ => {
                    let status_replicas = deploy.replicas() as i32;
                    let (pods, sampled) = if needs_pods {
                        deploy.mark_ready(t);
                        (Cow::Borrowed(deploy.pods()), deploy.ready_pods(seen_t))
                    } else {
                        (Cow::Owned(Vec::new()), &[][..])
                    };
                    let observations = observe(
                        &metrics, world, seen_load, seen_ready, sampled, seen_t, true,
                    );
                    let forecast = forecaster.as_mut().and_then(|(rf, scale, perfect)| {
                        let a = rf.observe(seen_t, seen_load / *scale)?;
                        let horizon = a.due - a.from;
                        let ahead = if *perfect {
                            peak_in(trace, world.interpolation, seen_t, seen_t + horizon)
                        } else {
                            a.upper * *scale
                        };
                        let label = match (world.explain, *perfect) {
                            (false, _) => String::new(),
                            (true, false) => rf.label(ahead, a.due - seen_t),
                            (true, true) => format!(
                                "perfect forecast (what-if): peak {ahead:.1} within {horizon} s"
                            ),
                        };
                        Some(crate::decide::Forecast {
                            observations: observe(
                                &metrics,
                                world,
                                ahead,
                                seen_ready.max(1),
                                sampled,
                                seen_t,
                                false,
                            ),
                            mode: rf.setup.mode,
                            label,
                            gated: rf.gated() && !*perfect,
                            relax_targets_percent: rf.relax_targets_percent(),
                            horizon_s: horizon,
                        })
                    });
                    forecast_acting = forecast.as_ref().is_some_and(|f| !f.gated);
                    // The simulator reads one delayed value per metric (it
                    // does not model stream windows): burst mode sees it too.
                    let burst = match a.spec.burst {
                        Some(_) => observations.clone(),
                        None => Vec::new(),
                    };
                    let input = DecisionInput {
                        now: time(t),
                        policy: &a.spec,
                        controller: a.controller.clone(),
                        current_replicas: current,
                        status_replicas,
                        pods,
                        observations,
                        raw_recommendation: None,
                        explain: world.explain,
                        forecast,
                        burst,
                    };
                    let mut decision = decide(&input, std::mem::take(&mut history));
                    on_decision(t, &decision);
                    history = std::mem::take(&mut decision.history);
                    decision.desired_replicas
                }
            };
            if next != current {
                keeper.action(t, current, next);
                desired = next;
                deploy.scale(next, t);
            }
        }
        let ready = deploy.ready_at(t);
        let cap = ready as f64 * world.capacity;
        if capacity.last().is_none_or(|&(_, c)| c != cap) {
            capacity.push((t, cap));
        }
        keeper.step(t, l, ready, deploy.replicas());
        if forecaster.is_some() {
            keeper.forecast(forecast_acting);
        }
        t += world.step_s;
    }
    let actions = keeper.actions().to_vec();
    let short = keeper.short().to_vec();
    Replay {
        score: keeper.finish(&a.name),
        capacity,
        actions,
        short,
    }
}

/// External/Object AverageValue metrics read only the total: no pods needed.
fn is_average_value_total(m: &MetricSpec) -> bool {
    match m.source_type {
        MetricSourceType::External => m
            .external
            .as_ref()
            .is_some_and(|e| e.target.average_value.is_some()),
        MetricSourceType::Object => m
            .object
            .as_ref()
            .is_some_and(|o| o.target.average_value.is_some()),
        _ => false,
    }
}

/// What the metrics pipeline reports for `load` spread over `ready` pods:
/// resource metrics as CPU usage (one CPU request = one replica's capacity,
/// saturating at 100 %), Pods metrics as load per pod, Object and External
/// metrics as the total load.
fn observe(
    metrics: &[MetricSpec],
    world: &World,
    load: f64,
    ready: usize,
    sampled: &[Pod],
    at: i64,
    saturate: bool,
) -> Vec<Observation> {
    let per_pod = |value_milli: i64, container: Option<&str>| -> BTreeMap<String, PodSample> {
        sampled
            .iter()
            .map(|p| {
                let containers = container
                    .map(|c| [(c.to_string(), value_milli)].into())
                    .unwrap_or_default();
                (
                    p.name.clone(),
                    PodSample {
                        value: Some(value_milli),
                        containers,
                        timestamp: time(at),
                        window: chrono::Duration::seconds(world.sample_window_s),
                    },
                )
            })
            .collect()
    };
    let milli = |v: f64| (v * 1000.0).round() as i64;
    metrics
        .iter()
        .map(|m| {
            let (name, pods, value, values) = match m.source_type {
                MetricSourceType::Resource | MetricSourceType::ContainerResource => {
                    let (name, container) = match (&m.resource, &m.container_resource) {
                        (Some(r), _) => (r.name.clone(), None),
                        (_, Some(c)) => (c.name.clone(), Some(c.container.as_str())),
                        _ => (String::new(), None),
                    };
                    let util = if ready > 0 {
                        let u = load / (ready as f64 * world.capacity);
                        if saturate {
                            u.min(1.0)
                        } else {
                            u
                        }
                    } else {
                        0.0
                    };
                    let usage = (util * CPU_REQUEST_MILLI as f64).round() as i64;
                    (name, per_pod(usage, container), None, Vec::new())
                }
                MetricSourceType::Pods => {
                    let name = m
                        .pods
                        .as_ref()
                        .map(|p| p.metric.name.clone())
                        .unwrap_or_default();
                    let each = if ready > 0 { load / ready as f64 } else { 0.0 };
                    (name, per_pod(milli(each), None), None, Vec::new())
                }
                MetricSourceType::Object => {
                    let name = m
                        .object
                        .as_ref()
                        .map(|o| o.metric.name.clone())
                        .unwrap_or_default();
                    (name, BTreeMap::new(), Some(milli(load)), Vec::new())
                }
                MetricSourceType::External => {
                    let name = m
                        .external
                        .as_ref()
                        .map(|e| e.metric.name.clone())
                        .unwrap_or_default();
                    (name, BTreeMap::new(), None, vec![milli(load)])
                }
                MetricSourceType::Other(ref t) => (t.clone(), BTreeMap::new(), None, Vec::new()),
            };
            Observation {
                source_type: m.source_type.clone(),
                name,
                pods,
                value,
                values,
                error: None,
            }
        })
        .collect()
}

/// The oracle: knows the future. At every instant exactly the replicas the
/// load needs are ready; each was created `startup` earlier; none lingers.
pub fn oracle(trace: &Trace, world: &World, min: i32, max: i32, rise: Option<Rise>) -> Replay {
    let (start, end) = (trace.start(), trace.end());
    let steps = ((end - start) / world.step_s).max(0) as usize;
    let mut cursor = LoadCursor::new(trace, world.interpolation);
    // Need over each step: the load's peak within it (with linear interpolation,
    // at one of its ends; held steps are flat).
    let loads: Vec<f64> = (0..=steps)
        .map(|k| cursor.at(start + k as i64 * world.step_s))
        .collect();
    let peak = |k: usize| match world.interpolation {
        Interpolation::Linear => loads[k].max(loads[k + 1]),
        Interpolation::Step => loads[k],
    };
    let need: Vec<i32> = (0..steps)
        .map(|k| needed(peak(k), world.capacity, min, max))
        .collect();
    // Pods needed at s exist from s − startup: existing(t) = max need over [t, t + startup].
    let ahead = (world.startup_s / world.step_s).max(0) as usize;
    let mut existing = vec![0i32; steps];
    let mut window: VecDeque<usize> = VecDeque::new();
    for k in (0..steps).rev() {
        while window.back().is_some_and(|&j| need[j] <= need[k]) {
            window.pop_back();
        }
        window.push_back(k);
        while window.front().is_some_and(|&j| j > k + ahead) {
            window.pop_front();
        }
        existing[k] = need[window[0]];
    }
    let mut keeper = ScoreKeeper::new(world.capacity, world.step_s, rise);
    let mut capacity = Vec::new();
    let mut prev = None;
    for k in 0..steps {
        let t = start + k as i64 * world.step_s;
        if let Some(p) = prev {
            if existing[k] != p {
                keeper.action(t, p, existing[k]);
            }
        }
        prev = Some(existing[k]);
        let cap = f64::from(need[k]) * world.capacity;
        if capacity.last().is_none_or(|&(_, c)| c != cap) {
            capacity.push((t, cap));
        }
        keeper.step(t, loads[k], need[k] as usize, existing[k] as usize);
    }
    let actions = keeper.actions().to_vec();
    let short = keeper.short().to_vec();
    Replay {
        score: keeper.finish("oracle"),
        capacity,
        actions,
        short,
    }
}
