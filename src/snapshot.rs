//! The JSON snapshot of `scalepilot decide`: one decision's inputs as a user
//! (or a conformance suite) writes them, camelCase, times in RFC 3339,
//! quantities as strings. Converted here into the plain inputs of `decide`.
//! One JSON document and nothing after it; an inline policy is checked as
//! `scalepilot validate` checks a policy file (without requiring a target).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Duration;
use serde::Deserialize;

use crate::decide::{
    zero_time, Container, ControllerConfig, DecisionInput, History, Observation, Pod, PodPhase,
    PodSample, Time,
};
use crate::error::{Error, Result};
use crate::policy::{load_paths, validate_spec, MetricSourceType, PolicySpec};
use crate::quantity::Quantity;

/// The snapshot document.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Snapshot {
    pub now: Time,
    #[serde(default)]
    pub policy: Option<PolicySpec>,
    #[serde(default)]
    pub policy_file: Option<PathBuf>,
    #[serde(default)]
    pub controller: ControllerSnapshot,
    pub current_replicas: i32,
    #[serde(default)]
    pub status_replicas: Option<i32>,
    #[serde(default)]
    pub pods: Vec<PodSnapshot>,
    #[serde(default)]
    pub metrics: Vec<MetricSnapshot>,
    #[serde(default)]
    pub raw_recommendation: Option<i32>,
    #[serde(default)]
    pub history: History,
}

/// kube-controller-manager flags; each defaults to the HPA's default.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControllerSnapshot {
    pub tolerance: Option<f64>,
    pub cpu_initialization_period_seconds: Option<f64>,
    pub initial_readiness_delay_seconds: Option<f64>,
    pub downscale_stabilization_window_seconds: Option<f64>,
    pub scale_up_limit_factor: Option<f64>,
    pub scale_up_limit_minimum: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodSnapshot {
    pub name: String,
    #[serde(default = "running")]
    pub phase: PodPhaseName,
    /// Absent: the pod has no Ready condition.
    #[serde(default)]
    pub ready: Option<bool>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub start_time: Option<Time>,
    #[serde(default)]
    pub ready_transition_time: Option<Time>,
    #[serde(default)]
    pub containers: Vec<ContainerSnapshot>,
    /// Init containers; those with `restartPolicy: Always` (sidecars) count like containers.
    #[serde(default)]
    pub init_containers: Vec<ContainerSnapshot>,
    /// Pod-level requests (`spec.resources.requests`).
    #[serde(default)]
    pub requests: BTreeMap<String, Quantity>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub enum PodPhaseName {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

fn running() -> PodPhaseName {
    PodPhaseName::Running
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerSnapshot {
    pub name: String,
    #[serde(default)]
    pub requests: BTreeMap<String, Quantity>,
    #[serde(default)]
    pub restart_policy: Option<String>,
}

/// What the metrics APIs returned for one metric.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSnapshot {
    #[serde(rename = "type")]
    pub source_type: MetricSourceType,
    /// Resource name (Resource, ContainerResource).
    #[serde(default)]
    pub resource: Option<String>,
    /// Metric name (Pods, Object, External).
    #[serde(default)]
    pub name: Option<String>,
    /// Sample time for every pod without its own; absent means never set:
    /// Go's zero time, as for every other absent time.
    #[serde(default)]
    pub timestamp: Option<Time>,
    /// Sample window for every pod without its own; defaults to 60 s.
    #[serde(default)]
    pub window_seconds: Option<f64>,
    #[serde(default)]
    pub pods: BTreeMap<String, PodSampleSnapshot>,
    #[serde(default)]
    pub value: Option<Quantity>,
    #[serde(default)]
    pub values: Vec<Quantity>,
    /// The metrics API failed with this message.
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodSampleSnapshot {
    #[serde(default)]
    pub value: Option<Quantity>,
    #[serde(default)]
    pub containers: BTreeMap<String, Quantity>,
    #[serde(default)]
    pub timestamp: Option<Time>,
    #[serde(default)]
    pub window_seconds: Option<f64>,
}

/// Parses a snapshot; a malformed one is an error naming the field and position.
pub fn parse(text: &str, source: &str) -> Result<Snapshot> {
    let mut de = serde_json::Deserializer::from_str(text);
    let snapshot = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        Error::Input(format!(
            "{source}:{}:{}: {}: {}",
            inner.line(),
            inner.column(),
            if path == "." { "(document)" } else { &path },
            inner
        ))
    })?;
    de.end().map_err(|e| {
        Error::Input(format!(
            "{source}:{}:{}: (document): {e}: one JSON snapshot and nothing after it",
            e.line(),
            e.column()
        ))
    })?;
    Ok(snapshot)
}

/// The problems `scalepilot validate` would find in an inline policy, as
/// `source: policy.path: message` lines.
fn check_inline(policy: &PolicySpec, source: &str) -> Result<()> {
    let problems: Vec<String> = validate_spec(policy, "policy", false)
        .into_iter()
        .map(|i| format!("{source}: {}: {}", i.path, i.message))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Policy(problems))
    }
}

fn seconds(s: f64, field: &str) -> Result<Duration> {
    if !(0.0..=1e12).contains(&s) {
        return Err(Error::Input(format!(
            "{field}: must be a non-negative number of seconds, got {s}"
        )));
    }
    Ok(Duration::nanoseconds((s * 1e9).round() as i64))
}

impl Snapshot {
    /// The policy: inline, or the single policy of `policyFile` (a relative
    /// path is relative to the snapshot's folder; to the working directory
    /// for a snapshot read from stdin).
    pub fn resolve_policy(&self, snapshot_dir: Option<&Path>) -> Result<PolicySpec> {
        self.resolve_policy_from(snapshot_dir, "snapshot")
    }

    /// [`Snapshot::resolve_policy`], naming the snapshot `source` in problems.
    pub fn resolve_policy_from(
        &self,
        snapshot_dir: Option<&Path>,
        source: &str,
    ) -> Result<PolicySpec> {
        match (&self.policy, &self.policy_file) {
            (Some(p), None) => {
                check_inline(p, source)?;
                Ok(p.clone())
            }
            (None, Some(file)) => {
                // As an include is read: relative to the file that names it.
                let path = match snapshot_dir {
                    Some(dir) if file.is_relative() => dir.join(file),
                    _ => file.clone(),
                };
                let report = load_paths(std::slice::from_ref(&path));
                if !report.problems.is_empty() {
                    return Err(Error::Policy(
                        report.problems.iter().map(ToString::to_string).collect(),
                    ));
                }
                match report.policies.as_slice() {
                    [one] => Ok(one.policy.spec.clone()),
                    many => Err(Error::Input(format!(
                        "policyFile: {} holds {} policies; decide needs exactly one",
                        path.display(),
                        many.len()
                    ))),
                }
            }
            (Some(_), Some(_)) => Err(Error::Input(
                "policy, policyFile: give one of them, not both".into(),
            )),
            (None, None) => Err(Error::Input(
                "policy: missing field (or give policyFile)".into(),
            )),
        }
    }

    /// The decision inputs this snapshot describes.
    pub fn to_input<'a>(&self, policy: &'a PolicySpec) -> Result<DecisionInput<'a>> {
        self.check_ranges()?;
        let d = ControllerConfig::default();
        let c = &self.controller;
        let controller = ControllerConfig {
            tolerance: c.tolerance.unwrap_or(d.tolerance),
            cpu_initialization_period: opt_seconds(
                c.cpu_initialization_period_seconds,
                "controller.cpuInitializationPeriodSeconds",
            )?
            .unwrap_or(d.cpu_initialization_period),
            initial_readiness_delay: opt_seconds(
                c.initial_readiness_delay_seconds,
                "controller.initialReadinessDelaySeconds",
            )?
            .unwrap_or(d.initial_readiness_delay),
            downscale_stabilization_window: opt_seconds(
                c.downscale_stabilization_window_seconds,
                "controller.downscaleStabilizationWindowSeconds",
            )?
            .unwrap_or(d.downscale_stabilization_window),
            scale_up_limit_factor: c.scale_up_limit_factor.unwrap_or(d.scale_up_limit_factor),
            scale_up_limit_minimum: c.scale_up_limit_minimum.unwrap_or(d.scale_up_limit_minimum),
        };
        let pods: Vec<Pod> = self.pods.iter().map(to_pod).collect();
        let mut observations = Vec::with_capacity(self.metrics.len());
        for (i, m) in self.metrics.iter().enumerate() {
            observations.push(self.to_observation(m, i)?);
        }
        Ok(DecisionInput {
            now: self.now,
            policy,
            controller,
            current_replicas: self.current_replicas,
            status_replicas: self.status_replicas.unwrap_or(self.current_replicas),
            pods: pods.into(),
            observations,
            raw_recommendation: self.raw_recommendation,
            explain: true,
            forecast: None,
            burst: Vec::new(),
        })
    }

    /// Replica counts are never negative, and the controller's numbers are
    /// finite and of the sign the HPA's flags take.
    fn check_ranges(&self) -> Result<()> {
        let counts = [
            ("currentReplicas", Some(self.current_replicas)),
            ("statusReplicas", self.status_replicas),
            ("rawRecommendation", self.raw_recommendation),
        ];
        for (field, n) in counts {
            if let Some(n) = n.filter(|n| *n < 0) {
                return Err(Error::Input(format!(
                    "{field}: {n}: a replica count is never negative"
                )));
            }
        }
        let c = &self.controller;
        let numbers = [
            ("controller.tolerance", c.tolerance, 0.0),
            (
                "controller.scaleUpLimitMinimum",
                c.scale_up_limit_minimum,
                0.0,
            ),
        ];
        for (field, v, least) in numbers {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= least)) {
                return Err(Error::Input(format!(
                    "{field}: {v}: must be a number of at least {least}"
                )));
            }
        }
        if let Some(f) = c
            .scale_up_limit_factor
            .filter(|f| !(f.is_finite() && *f > 0.0))
        {
            return Err(Error::Input(format!(
                "controller.scaleUpLimitFactor: {f}: must be a positive number"
            )));
        }
        Ok(())
    }

    fn to_observation(&self, m: &MetricSnapshot, i: usize) -> Result<Observation> {
        let resource_like = matches!(
            m.source_type,
            MetricSourceType::Resource | MetricSourceType::ContainerResource
        );
        let name = if resource_like {
            m.resource.as_ref().or(m.name.as_ref())
        } else {
            m.name.as_ref()
        };
        let name = name.cloned().ok_or_else(|| {
            Error::Input(format!(
                "metrics[{i}].{}: missing field",
                if resource_like { "resource" } else { "name" }
            ))
        })?;
        let default_ts = m.timestamp.unwrap_or_else(zero_time);
        let default_window = opt_seconds(m.window_seconds, &format!("metrics[{i}].windowSeconds"))?
            .unwrap_or(Duration::seconds(60));
        let mut pods = BTreeMap::new();
        for (pod, s) in &m.pods {
            let window = opt_seconds(
                s.window_seconds,
                &format!("metrics[{i}].pods.{pod}.windowSeconds"),
            )?
            .unwrap_or(default_window);
            pods.insert(
                pod.clone(),
                PodSample {
                    value: s.value.as_ref().map(Quantity::milli),
                    containers: s
                        .containers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.milli()))
                        .collect(),
                    timestamp: s.timestamp.unwrap_or(default_ts),
                    window,
                },
            );
        }
        Ok(Observation {
            source_type: m.source_type.clone(),
            name,
            pods,
            value: m.value.as_ref().map(Quantity::milli),
            values: m.values.iter().map(Quantity::milli).collect(),
            error: m.error.clone(),
        })
    }
}

fn opt_seconds(s: Option<f64>, field: &str) -> Result<Option<Duration>> {
    s.map(|s| seconds(s, field)).transpose()
}

fn to_pod(p: &PodSnapshot) -> Pod {
    let requests = |c: &ContainerSnapshot| Container {
        name: c.name.clone(),
        requests: c
            .requests
            .iter()
            .map(|(k, v)| (k.clone(), v.milli()))
            .collect(),
    };
    let sidecars = p
        .init_containers
        .iter()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    Pod {
        name: p.name.clone(),
        phase: match p.phase {
            PodPhaseName::Pending => PodPhase::Pending,
            PodPhaseName::Running => PodPhase::Running,
            PodPhaseName::Succeeded => PodPhase::Succeeded,
            PodPhaseName::Failed => PodPhase::Failed,
            PodPhaseName::Unknown => PodPhase::Unknown,
        },
        ready: p.ready,
        ready_transition_time: p.ready_transition_time.unwrap_or_else(zero_time),
        deleted: p.deleted,
        start_time: p.start_time,
        containers: p.containers.iter().chain(sidecars).map(requests).collect(),
        pod_requests: p
            .requests
            .iter()
            .map(|(k, v)| (k.clone(), v.milli()))
            .collect(),
    }
}
