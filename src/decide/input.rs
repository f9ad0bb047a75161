//! What one decision sees: the policy, the controller knobs, the target's
//! replicas, its pods and the observed metrics, all as plain values (milli-units,
//! timestamps). Built by the `decide` command from a snapshot, by the simulator
//! from a trace, and by the live controller from its watches.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::policy::{MetricSourceType, PolicySpec};

/// A point in time. Go's zero time (`0001-01-01T00:00:00Z`) is an ordinary value.
pub type Time = DateTime<Utc>;

/// Go's zero time, `0001-01-01T00:00:00Z`: what Kubernetes objects carry in a
/// time field that was never set.
pub fn zero_time() -> Time {
    chrono::NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("0001-01-01 is a valid date")
        .and_utc()
}

/// kube-controller-manager's HPA flags, with their defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerConfig {
    /// `--horizontal-pod-autoscaler-tolerance`.
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period`.
    pub cpu_initialization_period: Duration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`.
    pub initial_readiness_delay: Duration,
    /// `--horizontal-pod-autoscaler-downscale-stabilization`.
    pub downscale_stabilization_window: Duration,
    /// Legacy scale-up limit: `max(factor × current, minimum)`.
    pub scale_up_limit_factor: f64,
    pub scale_up_limit_minimum: f64,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            tolerance: 0.1,
            cpu_initialization_period: Duration::seconds(300),
            initial_readiness_delay: Duration::seconds(30),
            downscale_stabilization_window: Duration::seconds(300),
            scale_up_limit_factor: 2.0,
            scale_up_limit_minimum: 4.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

/// A container's resource requests in milli-units, by resource name.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Container {
    pub name: String,
    pub requests: BTreeMap<String, i64>,
}

/// The parts of a Pod the HPA reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Pod {
    pub name: String,
    pub phase: PodPhase,
    /// The Ready condition: `None` when the pod has none.
    pub ready: Option<bool>,
    /// The Ready condition's lastTransitionTime (zero time when unset).
    pub ready_transition_time: Time,
    /// `metadata.deletionTimestamp` is set.
    pub deleted: bool,
    pub start_time: Option<Time>,
    /// Regular containers followed by restartable (sidecar) init containers.
    pub containers: Vec<Container>,
    /// Pod-level requests (`spec.resources.requests`), empty when unset.
    pub pod_requests: BTreeMap<String, i64>,
}

impl Pod {
    /// `podutil.IsPodReady`: the Ready condition is True.
    pub fn is_ready(&self) -> bool {
        self.ready == Some(true)
    }
}

/// One pod's sample of a per-pod metric.
#[derive(Clone, Debug, PartialEq)]
pub struct PodSample {
    /// The pod's value in milli-units; for resource metrics, the sum over
    /// containers when not given.
    pub value: Option<i64>,
    /// Per-container values in milli-units (resource metrics).
    pub containers: BTreeMap<String, i64>,
    pub timestamp: Time,
    pub window: Duration,
}

/// What the metrics pipeline returned for one metric of the policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub source_type: MetricSourceType,
    /// Resource name for Resource/ContainerResource, metric name otherwise.
    pub name: String,
    /// Per-pod samples (Resource, ContainerResource, Pods), by pod name.
    pub pods: BTreeMap<String, PodSample>,
    /// The object's value (Object), milli-units.
    pub value: Option<i64>,
    /// The series' values (External), milli-units; the HPA sums them.
    pub values: Vec<i64>,
    /// The metrics API failed with this message.
    pub error: Option<String>,
}

/// Everything one decision reads, besides the history it updates.
#[derive(Clone, Debug)]
pub struct DecisionInput<'a> {
    pub now: Time,
    pub policy: &'a PolicySpec,
    pub controller: ControllerConfig,
    /// `/scale` `spec.replicas`.
    pub current_replicas: i32,
    /// `/scale` `status.replicas`.
    pub status_replicas: i32,
    /// The target's pods (borrowed by replays that keep them between decisions).
    pub pods: Cow<'a, [Pod]>,
    pub observations: Vec<Observation>,
    /// When set, the metric proposals are skipped and this is the raw recommendation.
    pub raw_recommendation: Option<i32>,
    /// Spell out messages and labels (off in replays that keep only numbers).
    pub explain: bool,
    /// The policy's metrics as a model forecasts them at its horizon.
    pub forecast: Option<Forecast>,
    /// Burst mode: the policy's metrics over the short window (empty without `burst`).
    pub burst: Vec<Observation>,
}

/// A forecast, as observations of the policy's metrics at the horizon.
#[derive(Clone, Debug)]
pub struct Forecast {
    pub observations: Vec<Observation>,
    pub mode: crate::policy::ForecastMode,
    /// What the reasons say, e.g. `forecast peak 1520 within 300 s (models/web.json)`.
    pub label: String,
    /// The accuracy gate is closed: the reactive proposal stands, and the reasons say why.
    pub gated: bool,
    /// While the gate is open, every metric target is raised by this many percent.
    pub relax_targets_percent: f64,
    /// How far ahead the forecast's peak reaches, seconds.
    pub horizon_s: i64,
}

#[cfg(test)]
mod tests {
    #[test]
    fn zero_time_is_go_s_zero_time_not_the_unix_epoch() {
        assert_eq!(super::zero_time().to_rfc3339(), "0001-01-01T00:00:00+00:00");
    }
}
