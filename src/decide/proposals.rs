//! One replica proposal per metric of the policy (`computeReplicasForMetric`),
//! and their combination (`computeReplicasForMetrics`): the max over valid
//! proposals, where an invalid metric blocks a scale-down but not a scale-up.

use serde::Serialize;

use super::calculator::{
    per_pod_replicas, plain_replicas, resource_utilization_replicas, usage_ratio_replicas,
    Calculation, PodContext, Tolerances,
};
use super::error::MetricError;
use super::explain::Explain;
use super::input::{DecisionInput, Observation, PodSample};
use super::pods::{Sample, Samples};
use crate::policy::{LabelSelector, MetricSourceType, MetricSpec, MetricTarget, MetricTargetType};
use crate::quantity::format_milli;

/// One metric's proposal, as the decision reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Proposal {
    /// The HPA's description of the metric, e.g. `cpu resource utilization (percentage of request)`.
    pub metric: String,
    pub replicas: Option<i32>,
    pub utilization_percent: Option<i32>,
    /// The measured value as a quantity (average per pod, or the total).
    pub raw_value: Option<String>,
    /// The usage ratio against the target (before any missing/unready recomputation).
    pub ratio: Option<f64>,
    /// The ratio was within tolerance, so the current count was kept.
    pub within_tolerance: Option<bool>,
    /// The ratio once missing and unready pods were filled in, when they were:
    /// the one tolerance and the count were decided on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjusted_ratio: Option<f64>,
    /// How many pods the count was computed from, when it is per pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pods_counted: Option<usize>,
    pub error: Option<String>,
    /// The HPA condition reason for a failed metric (e.g. `FailedGetResourceMetric`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition_reason: Option<&'static str>,
}

impl Proposal {
    fn ok(metric: String, c: Calculation, ex: Explain) -> Self {
        Proposal {
            metric,
            replicas: Some(c.replicas),
            utilization_percent: c.utilization_percent,
            raw_value: ex.0.then(|| format_milli(c.raw_milli)),
            ratio: Some(c.ratio),
            within_tolerance: Some(c.within_tolerance),
            adjusted_ratio: c.adjusted_ratio,
            pods_counted: c.pods_counted,
            error: None,
            condition_reason: None,
        }
    }

    fn failed(metric: String, reason: &'static str, message: String) -> Self {
        Proposal {
            metric,
            replicas: None,
            utilization_percent: None,
            raw_value: None,
            ratio: None,
            within_tolerance: None,
            adjusted_ratio: None,
            pods_counted: None,
            error: Some(message),
            condition_reason: Some(reason),
        }
    }
}

/// The combination of all proposals.
#[derive(Clone, Debug, PartialEq)]
pub enum Combined {
    /// The max over the valid proposals, from the named metric. `partial_error`
    /// is set when some metrics failed but the valid ones did not scale down.
    Valid {
        replicas: i32,
        metric: String,
        partial_error: Option<String>,
    },
    /// No decision: every metric failed, or some failed and the rest would
    /// scale down. Carries the first failure's condition reason and the error.
    Invalid {
        reason: &'static str,
        message: String,
    },
}

/// Computes every metric's proposal and combines them.
pub fn propose_all(
    input: &DecisionInput,
    metrics: &[MetricSpec],
    tolerances: Tolerances,
) -> (Vec<Proposal>, Combined) {
    let proposals: Vec<Proposal> = metrics
        .iter()
        .map(|m| propose(input, m, tolerances))
        .collect();
    let mut best: Option<(i32, &str)> = None;
    let mut invalid = proposals.iter().filter(|p| p.error.is_some());
    let first_invalid = invalid.next();
    let invalid_count = first_invalid.map_or(0, |_| 1 + invalid.count());
    for p in &proposals {
        if let Some(r) = p.replicas {
            if best.is_none_or(|(b, _)| b == 0 || r > b) {
                best = Some((r, &p.metric));
            }
        }
    }
    let replicas = best.map_or(0, |(r, _)| r);
    let error = first_invalid.map(|p| {
        format!(
            "invalid metrics ({invalid_count} invalid out of {}), first error is: {}",
            metrics.len(),
            p.error.as_deref().unwrap_or_default()
        )
    });
    if invalid_count >= metrics.len() || (invalid_count > 0 && replicas < input.current_replicas) {
        let (reason, message) = match first_invalid {
            Some(p) => (
                p.condition_reason.unwrap_or("InvalidMetricSourceType"),
                error.unwrap_or_default(),
            ),
            None => ("InvalidMetricSourceType", "no metrics to compute".into()),
        };
        return (proposals, Combined::Invalid { reason, message });
    }
    let metric = best.map(|(_, m)| m.to_string()).unwrap_or_default();
    (
        proposals,
        Combined::Valid {
            replicas,
            metric,
            partial_error: error,
        },
    )
}

/// `computeReplicasForMetric` for one metric spec.
pub fn propose(input: &DecisionInput, spec: &MetricSpec, tolerances: Tolerances) -> Proposal {
    let ex = Explain(input.explain);
    let ctx = PodContext {
        pods: &input.pods,
        cfg: &input.controller,
        now: input.now,
    };
    let find = |name: &str| {
        input
            .observations
            .iter()
            .find(|o| o.source_type == spec.source_type && o.name == name)
    };
    let spec_replicas = input.current_replicas;
    match &spec.source_type {
        MetricSourceType::Resource | MetricSourceType::ContainerResource => {
            let (name, container, target) = match (&spec.resource, &spec.container_resource) {
                (Some(r), _) if spec.source_type == MetricSourceType::Resource => {
                    (r.name.as_str(), None, &r.target)
                }
                (_, Some(c)) if spec.source_type == MetricSourceType::ContainerResource => {
                    (c.name.as_str(), Some(c.container.as_str()), &c.target)
                }
                _ => return missing_source(spec),
            };
            let (reason, wrap) = match container {
                None => (
                    "FailedGetResourceMetric",
                    format!("failed to get {name} resource metric value"),
                ),
                Some(c) => (
                    "FailedGetContainerResourceMetric",
                    format!("failed to get {c} container metric value"),
                ),
            };
            let fail = |label: String, msg: String| {
                Proposal::failed(label, reason, format!("{wrap}: {msg}"))
            };
            let samples = || {
                pod_samples(find(name), container, "resource metrics API")
                    .map_err(|e| e.context(format!("unable to get metrics for resource {name}")))
            };
            if let Some(avg) = &target.average_value {
                let label = ex.msg(|| format!("{name} resource"));
                let calc = samples().and_then(|s| {
                    plain_replicas(&ctx, spec_replicas, avg.milli(), Some(name), tolerances, s)
                });
                return match calc {
                    Ok(c) => Proposal::ok(label, c, ex),
                    Err(e) => fail(label, format!("failed to get {name} usage: {e}")),
                };
            }
            let label = ex.msg(|| match container {
                None => format!("{name} resource utilization (percentage of request)"),
                Some(_) => format!("{name} container resource utilization (percentage of request)"),
            });
            let Some(util) = target.average_utilization else {
                return fail(label, "invalid resource metric source: neither an average utilization target nor an average value (usage) target was set".into());
            };
            let calc = samples().and_then(|s| {
                resource_utilization_replicas(
                    &ctx,
                    spec_replicas,
                    util,
                    name,
                    container,
                    tolerances,
                    s,
                )
            });
            match calc {
                Ok(c) => Proposal::ok(label, c, ex),
                Err(e) => fail(label, format!("failed to get {name} utilization: {e}")),
            }
        }
        MetricSourceType::Pods => {
            let Some(src) = &spec.pods else {
                return missing_source(spec);
            };
            let name = src.metric.name.as_str();
            let label = ex.msg(|| format!("pods metric {name}"));
            let fail = |msg: String| {
                Proposal::failed(
                    label.clone(),
                    "FailedGetPodsMetric",
                    format!("failed to get pods metric value: {msg}"),
                )
            };
            let Some(avg) = &src.target.average_value else {
                return fail("invalid pods metric source: no average value target was set".into());
            };
            let calc = pod_samples(find(name), None, "custom metrics API")
                .map_err(|e| e.context(format!("unable to get metric {name}")))
                .and_then(|s| {
                    plain_replicas(&ctx, spec_replicas, avg.milli(), None, tolerances, s)
                });
            match calc {
                Ok(c) => Proposal::ok(label, c, ex),
                Err(e) => fail(e.to_string()),
            }
        }
        MetricSourceType::Object => {
            let Some(src) = &spec.object else {
                return missing_source(spec);
            };
            let name = src.metric.name.as_str();
            let kind = &src.described_object.kind;
            let fetch = || {
                let failed = |e: MetricError| {
                    Err(e
                        .on(format!("{kind} {}", src.described_object.name))
                        .context(format!("unable to get metric {name}")))
                };
                match find(name) {
                    None => failed(MetricError::NoObservation),
                    Some(Observation { error: Some(e), .. }) => {
                        failed(MetricError::Observed(e.clone()))
                    }
                    Some(Observation { value: Some(v), .. }) => Ok(*v),
                    Some(_) => failed(MetricError::NoValue),
                }
            };
            let fail = |label: String, msg: String| {
                Proposal::failed(
                    label,
                    "FailedGetObjectMetric",
                    format!("failed to get object metric value: {msg}"),
                )
            };
            match (&src.target, &src.target.value, &src.target.average_value) {
                (MetricTarget { target_type: Some(MetricTargetType::Value), .. }, Some(v), _) => {
                    let label = ex.msg(|| format!("{kind} metric {name}"));
                    match fetch().and_then(|usage| {
                        usage_ratio_replicas(&input.pods, spec_replicas, usage, v.milli(), tolerances)
                    }) {
                        Ok(c) => Proposal::ok(label, c, ex),
                        Err(e) => fail(label, e.to_string()),
                    }
                }
                (MetricTarget { target_type: Some(MetricTargetType::AverageValue), .. }, _, Some(avg)) => {
                    // The HPA labels this case like an external metric; kept for fidelity.
                    let label = ex.msg(|| external_label(name, src.metric.selector.as_ref()));
                    match fetch() {
                        Ok(usage) => Proposal::ok(
                            label,
                            per_pod_replicas(input.status_replicas, usage, avg.milli(), tolerances),
                            ex,
                        ),
                        Err(e) => fail(label, format!("failed to get {name} object metric: {e}")),
                    }
                }
                _ => fail(
                    format!("{kind} metric {name}"),
                    "invalid object metric source: neither a value target nor an average value target was set".into(),
                ),
            }
        }
        MetricSourceType::External => {
            let Some(src) = &spec.external else {
                return missing_source(spec);
            };
            let name = src.metric.name.as_str();
            let label = ex.msg(|| external_label(name, src.metric.selector.as_ref()));
            let fail = |msg: String| {
                Proposal::failed(
                    label.clone(),
                    "FailedGetExternalMetric",
                    format!("failed to get {name} external metric value: {msg}"),
                )
            };
            let fetch = || {
                let failed = |e: MetricError| {
                    Err(e.context(format!("unable to get external metric {name}")))
                };
                match find(name) {
                    None => failed(MetricError::NoObservation),
                    Some(Observation { error: Some(e), .. }) => {
                        failed(MetricError::Observed(e.clone()))
                    }
                    Some(o) if o.values.is_empty() => {
                        failed(MetricError::NoMetricsFrom("external metrics API"))
                    }
                    Some(o) => Ok(o.values.iter().fold(0i64, |acc, v| acc.saturating_add(*v))),
                }
            };
            if let Some(avg) = &src.target.average_value {
                return match fetch() {
                    Ok(usage) => Proposal::ok(
                        label.clone(),
                        per_pod_replicas(input.status_replicas, usage, avg.milli(), tolerances),
                        ex,
                    ),
                    Err(e) => fail(format!("failed to get {name} external metric: {e}")),
                };
            }
            if let Some(v) = &src.target.value {
                return match fetch().and_then(|usage| {
                    usage_ratio_replicas(&input.pods, spec_replicas, usage, v.milli(), tolerances)
                }) {
                    Ok(c) => Proposal::ok(label.clone(), c, ex),
                    Err(e) => fail(format!("failed to get external metric {name}: {e}")),
                };
            }
            fail("invalid external metric source: neither a value target nor an average value target was set".into())
        }
        MetricSourceType::Other(t) => Proposal::failed(
            format!("{t} metric"),
            "InvalidMetricSourceType",
            format!("unknown metric source type {t:?}"),
        ),
    }
}

fn missing_source(spec: &MetricSpec) -> Proposal {
    Proposal::failed(
        format!("{} metric", spec.source_type),
        "InvalidMetricSourceType",
        format!(
            "metric source type {} has no matching source block",
            spec.source_type
        ),
    )
}

/// `external metric NAME`, with `{SELECTOR}` when it has one (the HPA prints
/// Go's `(<nil>)` for none; a reader gains nothing from it).
fn external_label(name: &str, selector: Option<&LabelSelector>) -> String {
    let Some(s) = selector else {
        return format!("external metric {name}");
    };
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.extend(
        s.match_expressions
            .iter()
            .map(|e| format!("{} {} ({})", e.key, e.operator, e.values.join(","))),
    );
    if parts.is_empty() {
        format!("external metric {name}")
    } else {
        format!("external metric {name}{{{}}}", parts.join(","))
    }
}

/// The per-pod samples of an observation in milli-units; for a container
/// metric, that container's value (a pod without it has no sample).
fn pod_samples<'a>(
    obs: Option<&'a Observation>,
    container: Option<&str>,
    api: &'static str,
) -> Result<Samples<'a>, MetricError> {
    let obs = obs.ok_or(MetricError::NoObservation)?;
    if let Some(e) = &obs.error {
        return Err(MetricError::Observed(e.clone()));
    }
    if obs.pods.is_empty() {
        return Err(MetricError::NoMetricsFrom(api));
    }
    let value_of = |s: &PodSample| match container {
        Some(c) => s.containers.get(c).copied(),
        None => s.value.or_else(|| {
            (!s.containers.is_empty()).then(|| {
                s.containers
                    .values()
                    .fold(0i64, |a, v| a.saturating_add(*v))
            })
        }),
    };
    Ok(obs
        .pods
        .iter()
        .filter_map(|(name, s)| {
            value_of(s).map(|value| {
                (
                    name.as_str(),
                    Sample {
                        value,
                        timestamp: s.timestamp,
                        window: s.window,
                    },
                )
            })
        })
        .collect())
}
