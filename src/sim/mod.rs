//! The replay simulator: a trace (or a synthetic workload) through the real
//! decision chain with a manual clock, side by side with the HPA, a KEDA-style
//! scaler and an oracle that knows the future, scored on cost and
//! under-provisioning.
//!
//! Pure: imports `decide`, `policy` and `quantity`; never `kube` or `rdkafka`.

mod cluster;
mod frontier;
pub mod html;
mod load;
mod plot;
mod plot_frontier;
mod plot_time;
mod runner;
mod score;
mod trace;
mod tune;
mod workload;

pub use frontier::{
    compare, retarget, sweep, Comparison, Frontier, Point, Sweep, SweepError, SweepOutcome,
};
pub use load::{load_at, peak_in, Interpolation, LoadCursor};
pub use plot::{plot, PlotFormat};
pub use plot_frontier::plot_frontiers;
pub use plot_time::PlotTime;
pub use runner::{needed, oracle, replay, Autoscaler, ForecastSetup, Replay, World};
pub use score::{largest_rise, Rise, ScoreKeeper, Scorecard};
pub use trace::Trace;
pub use tune::{max_replays, score, tune, Score, Step, Tuned};
pub use workload::Workload;

use crate::decide::{ControllerConfig, Decision};
use crate::error::{Error, Result};
use crate::policy::{
    ExternalMetricSource, MetricIdentifier, MetricSourceType, MetricSpec, MetricTarget,
    MetricTargetType, PolicySpec,
};
use crate::quantity::Quantity;

/// How much one replica serves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Capacity {
    /// Load units per ready replica, in the trace's units.
    PerReplica(f64),
    /// Rescale the trace so that its 99th percentile needs this many replicas
    /// of 100 load units each: targets then read as percent of a replica.
    Auto(u32),
    /// Multiply the trace by this factor, one replica serving 100 units: the
    /// factor `Auto` chose on another part of the trace (`tune` sizes it on the
    /// history and replays the held-out part with the same replica).
    Rescaled(f64),
}

impl Capacity {
    /// Load units one replica serves in the replay (targets in percent of it).
    pub fn per_replica(&self) -> f64 {
        match self {
            Capacity::PerReplica(c) => *c,
            Capacity::Auto(_) | Capacity::Rescaled(_) => AUTO_UNITS_PER_REPLICA,
        }
    }
}

/// Units one replica serves under `Capacity::Auto`.
pub const AUTO_UNITS_PER_REPLICA: f64 = 100.0;

/// A `--capacity-per-replica` that is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CapacityError {
    #[error("auto:N needs a whole number of replicas, got {0:?}")]
    AutoNotWhole(String),
    #[error("auto:N needs N ≥ 1")]
    AutoZero,
    #[error("capacity must be a number or auto:N, got {0:?}")]
    NotANumber(String),
    #[error("capacity must be positive, got {0:?}")]
    NotPositive(String),
}

impl std::str::FromStr for Capacity {
    type Err = CapacityError;
    fn from_str(s: &str) -> std::result::Result<Self, CapacityError> {
        if let Some(n) = s.strip_prefix("auto:") {
            let n: u32 = n
                .parse()
                .map_err(|_| CapacityError::AutoNotWhole(n.to_string()))?;
            if n == 0 {
                return Err(CapacityError::AutoZero);
            }
            return Ok(Capacity::Auto(n));
        }
        let v: f64 = s
            .parse()
            .map_err(|_| CapacityError::NotANumber(s.to_string()))?;
        if !(v > 0.0 && v.is_finite()) {
            return Err(CapacityError::NotPositive(s.to_string()));
        }
        Ok(Capacity::PerReplica(v))
    }
}

/// The baselines a run can include.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Baseline {
    Hpa,
    Keda,
    Oracle,
}

/// Everything a run needs besides the trace and the policies.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub capacity: Capacity,
    pub pod_startup_s: i64,
    pub metric_delay_s: i64,
    pub tick_s: i64,
    pub interpolation: Interpolation,
    pub baselines: Vec<Baseline>,
    /// The HPA baseline's CPU utilization target, %.
    pub hpa_target: i32,
    /// Simulation step, seconds (ticks, start-up and delays should be multiples).
    pub step_s: i64,
    /// Decisions spell out their messages (needed for a decision record).
    pub explain: bool,
    /// Adds, for every predictive policy, a `NAME-perfect` twin whose forecast
    /// is the true peak ahead (see `ForecastSetup::perfect`).
    pub perfect_forecast: bool,
}

/// The longest start-up, metric delay or tick a run accepts: one day.
pub const MAX_DELAY_S: i64 = 86_400;

impl SimConfig {
    /// Every setting in its range, or an error naming the first one that is not.
    pub fn check(&self) -> Result<()> {
        let bad = |what: &str, why: String| Err(Error::Input(format!("{what}: {why}")));
        match self.capacity {
            Capacity::PerReplica(c) | Capacity::Rescaled(c) if !(c.is_finite() && c > 0.0) => {
                return bad(
                    "capacity per replica",
                    format!("{c}: must be a positive number"),
                );
            }
            _ => {}
        }
        for (what, v, least) in [
            ("pod start-up", self.pod_startup_s, 0),
            ("metric delay", self.metric_delay_s, 0),
            ("tick", self.tick_s, 1),
            ("step", self.step_s, 1),
        ] {
            if !(least..=MAX_DELAY_S).contains(&v) {
                return bad(what, format!("{v} s: must be {least} s to 1 d"));
            }
        }
        if !(1..=1000).contains(&self.hpa_target) {
            return bad(
                "HPA target",
                format!("{} %: must be 1 % to 1000 %", self.hpa_target),
            );
        }
        Ok(())
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            capacity: Capacity::Auto(20),
            pod_startup_s: 30,
            metric_delay_s: 10,
            tick_s: 5,
            interpolation: Interpolation::Linear,
            baselines: vec![Baseline::Hpa, Baseline::Keda, Baseline::Oracle],
            hpa_target: 80,
            step_s: 1,
            explain: false,
            perfect_forecast: false,
        }
    }
}

/// A named policy to replay.
#[derive(Clone, Debug)]
pub struct NamedPolicy {
    pub name: String,
    pub spec: PolicySpec,
    /// Its model, when it forecasts.
    pub forecast: Option<ForecastSetup>,
}

/// The outcome of a run: the (possibly rescaled) trace, the world, and one
/// replay per autoscaler, oracle last.
#[derive(Debug)]
pub struct Outcome {
    pub trace: Trace,
    pub world: World,
    pub replays: Vec<Replay>,
}

impl Outcome {
    pub fn scorecards(&self) -> Vec<&Scorecard> {
        self.replays.iter().map(|r| &r.score).collect()
    }
}

/// Runs every policy and baseline over `trace`.
pub fn run(
    trace: Trace,
    policies: &[NamedPolicy],
    cfg: &SimConfig,
    mut on_decision: impl FnMut(&str, i64, &Decision),
) -> Result<Outcome> {
    cfg.check()?;
    let (trace, capacity, scale) = match cfg.capacity {
        Capacity::PerReplica(c) => (trace, c, 1.0),
        Capacity::Rescaled(k) => (trace.scaled(k), AUTO_UNITS_PER_REPLICA, k),
        Capacity::Auto(n) => {
            let p99 = trace.quantile(0.99);
            if p99 <= 0.0 {
                return Err(Error::Input(format!(
                    "{}: the trace's 99th percentile is 0, so capacity auto:{n} is undefined; give --capacity-per-replica",
                    trace.name
                )));
            }
            let k = f64::from(n) * AUTO_UNITS_PER_REPLICA / p99;
            (trace.scaled(k), AUTO_UNITS_PER_REPLICA, k)
        }
    };
    let world = World {
        capacity,
        startup_s: cfg.pod_startup_s,
        step_s: cfg.step_s.max(1),
        interpolation: cfg.interpolation,
        sample_window_s: 30,
        explain: cfg.explain,
    };
    let rise = largest_rise(&trace.ts, &trace.values);
    let (min, max) = policies
        .first()
        .map(|p| (p.spec.min_replicas(), p.spec.max_replicas))
        .unwrap_or((1, 1000));
    let mut autoscalers: Vec<Autoscaler> = policies
        .iter()
        .map(|p| Autoscaler {
            name: p.name.clone(),
            spec: p.spec.clone(),
            controller: ControllerConfig::default(),
            tick_s: p.spec.tick_seconds.map_or(cfg.tick_s, i64::from).max(1),
            metric_delay_s: cfg.metric_delay_s,
            poll_s: None,
            cooldown_s: None,
            forecast: p.forecast.clone().map(|f| ForecastSetup { scale, ..f }),
        })
        .collect();
    if cfg.perfect_forecast {
        let twins: Vec<Autoscaler> = autoscalers
            .iter()
            .filter_map(|a| {
                let f = a.forecast.clone()?;
                Some(Autoscaler {
                    name: format!("{}-perfect", a.name),
                    forecast: Some(ForecastSetup { perfect: true, ..f }),
                    ..a.clone()
                })
            })
            .collect();
        autoscalers.extend(twins);
    }
    for b in &cfg.baselines {
        match b {
            Baseline::Hpa => autoscalers.push(hpa_baseline(min, max, cfg.hpa_target)),
            Baseline::Keda => autoscalers.push(keda_baseline(min, max, cfg.hpa_target, capacity)),
            Baseline::Oracle => {}
        }
    }
    let mut replays: Vec<Replay> = autoscalers
        .iter()
        .map(|a| replay(&trace, &world, a, rise, |t, d| on_decision(&a.name, t, d)))
        .collect();
    if cfg.baselines.contains(&Baseline::Oracle) {
        let o = oracle(&trace, &world, min, max, rise);
        let base = o.score.replica_hours;
        for r in &mut replays {
            r.score.cost_vs_oracle = (base > 0.0).then(|| r.score.replica_hours / base);
        }
        let mut o = o;
        o.score.cost_vs_oracle = Some(1.0);
        replays.push(o);
    }
    Ok(Outcome {
        trace,
        world,
        replays,
    })
}

/// The HPA with its defaults: CPU utilization, no `behavior` (the legacy
/// rules), a 15 s sync and the 40 s end-to-end metric lag of kubelet and
/// metrics-server (kubernetes#110317).
pub fn hpa_baseline(min: i32, max: i32, target: i32) -> Autoscaler {
    Autoscaler {
        name: "hpa".into(),
        spec: PolicySpec {
            target: None,
            min_replicas: Some(min),
            max_replicas: max,
            metrics: vec![MetricSpec::cpu_utilization(target)],
            behavior: None,
            tick_seconds: None,
            forecast: None,
            activation: None,
            burst: None,
        },
        controller: ControllerConfig::default(),
        tick_s: 15,
        metric_delay_s: 40,
        poll_s: None,
        cooldown_s: None,
        forecast: None,
    }
}

/// KEDA-style: an External AverageValue metric on the load (the same
/// utilization target as the HPA's), read every 30 s, scaled by an HPA with
/// default rules, and straight to the minimum after 300 s without load.
pub fn keda_baseline(min: i32, max: i32, target_pct: i32, capacity: f64) -> Autoscaler {
    let per_replica = capacity * f64::from(target_pct) / 100.0;
    let quantity = Quantity::from_milli((per_replica * 1000.0).round().max(1.0) as i64);
    Autoscaler {
        name: "keda".into(),
        spec: PolicySpec {
            target: None,
            min_replicas: Some(min),
            max_replicas: max,
            metrics: vec![MetricSpec {
                source_type: MetricSourceType::External,
                resource: None,
                container_resource: None,
                pods: None,
                object: None,
                external: Some(ExternalMetricSource {
                    metric: MetricIdentifier {
                        name: "load".into(),
                        selector: None,
                    },
                    target: MetricTarget {
                        target_type: Some(MetricTargetType::AverageValue),
                        value: None,
                        average_value: Some(quantity),
                        average_utilization: None,
                    },
                }),
                stream: None,
                kafka_lag: None,
            }],
            behavior: None,
            tick_seconds: None,
            forecast: None,
            activation: None,
            burst: None,
        },
        controller: ControllerConfig::default(),
        tick_s: 15,
        metric_delay_s: 0,
        poll_s: Some(30),
        cooldown_s: Some(300),
        forecast: None,
    }
}

#[cfg(test)]
mod tests;
