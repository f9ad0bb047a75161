//! The HPA's replica calculator (`replica_calculator.go`), one function per
//! target kind: resource utilization, plain per-pod values (Pods metrics and
//! resource AverageValue), object/external totals and per-pod averages.
//!
//! Each returns the replica count *after* the tolerance check, as the HPA's
//! does, plus what was measured, so the decision can explain itself.

use super::error::MetricError;
use super::input::{ControllerConfig, Pod, Time};
use super::pods::{group_pods, pod_requests, ready_pods_count, Sample, Samples};

/// The usage-ratio band in which nothing changes: `1 − down ≤ ratio ≤ 1 + up`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    pub scale_down: f64,
    pub scale_up: f64,
}

impl Tolerances {
    pub fn is_within(&self, ratio: f64) -> bool {
        1.0 - self.scale_down <= ratio && ratio <= 1.0 + self.scale_up
    }
}

/// What the calculator measured for one metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Calculation {
    pub replicas: i32,
    /// Truncated integer utilization (resource utilization targets only).
    pub utilization_percent: Option<i32>,
    /// The measured value in milli-units (average per pod, or the total).
    pub raw_milli: i64,
    /// The first usage ratio computed (before any missing/unready recomputation).
    pub ratio: f64,
    /// The ratio fell inside the tolerance band and the count was kept.
    pub within_tolerance: bool,
    /// The ratio once missing and unready pods were filled in (the one the
    /// tolerance and the count were decided on), when they were.
    pub adjusted_ratio: Option<f64>,
    /// How many pods the count was computed from (per-pod metrics only).
    pub pods_counted: Option<usize>,
}

/// `int32(math.Ceil(x))` with the int32 range enforced instead of wrapping.
pub fn ceil_to_i32(x: f64) -> i32 {
    // `as` saturates and maps NaN to 0.
    x.ceil() as i32
}

/// Shared context of the per-pod calculations.
pub struct PodContext<'a> {
    pub pods: &'a [Pod],
    pub cfg: &'a ControllerConfig,
    pub now: Time,
}

/// `GetResourceReplicas`: utilization of `resource` as a percentage of requests.
pub fn resource_utilization_replicas<'a>(
    ctx: &PodContext<'a>,
    current: i32,
    target_utilization: i32,
    resource: &str,
    container: Option<&str>,
    tolerances: Tolerances,
    mut samples: Samples<'a>,
) -> Result<Calculation, MetricError> {
    if ctx.pods.is_empty() {
        return Err(MetricError::NoPods);
    }
    let groups = group_pods(ctx.pods, &samples, Some(resource), ctx.cfg, ctx.now);
    remove(&mut samples, groups.ignored.iter().chain(&groups.unready));
    if samples.is_empty() {
        return Err(MetricError::NoReadyPodMetrics);
    }
    let requests = pod_requests(ctx.pods, container, resource)?;
    let (ratio, utilization, raw) = utilization_ratio(&samples, &requests, target_utilization)?;
    let done = |replicas: i32, within: bool| Calculation {
        replicas,
        utilization_percent: Some(utilization),
        raw_milli: raw,
        ratio,
        within_tolerance: within,
        adjusted_ratio: None,
        pods_counted: None,
    };

    let scale_up_with_unready = !groups.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && groups.missing.is_empty() {
        if tolerances.is_within(ratio) {
            return Ok(done(current, true));
        }
        return Ok(Calculation {
            pods_counted: Some(groups.ready_count),
            ..done(ceil_to_i32(ratio * groups.ready_count as f64), false)
        });
    }

    if !groups.missing.is_empty() {
        // Scale-down: missing pods use their request (or the target when above 100 %);
        // scale-up: they use nothing.
        let fallback_percent = i64::from(target_utilization.max(100));
        for &name in &groups.missing {
            let value = if ratio < 1.0 {
                // In i128: a request of a saturated quantity times the percent.
                let request = i128::from(requests.get(name).copied().unwrap_or(0));
                (request * i128::from(fallback_percent) / 100)
                    .clamp(i64::MIN.into(), i64::MAX.into()) as i64
            } else if ratio > 1.0 {
                0
            } else {
                continue;
            };
            samples.insert(name, placeholder(value, ctx.now));
        }
    }
    if scale_up_with_unready {
        for &name in &groups.unready {
            samples.insert(name, placeholder(0, ctx.now));
        }
    }
    let (new_ratio, _, _) = utilization_ratio(&samples, &requests, target_utilization)?;
    recomputed(current, ratio, new_ratio, samples.len(), tolerances).map(|(r, w)| Calculation {
        adjusted_ratio: Some(new_ratio),
        pods_counted: Some(samples.len()),
        ..done(r, w)
    })
}

/// `GetRawResourceReplicas` and `GetMetricReplicas` (`calcPlainMetricReplicas`):
/// the average per-pod value against a per-pod target. `resource` is the
/// resource name for resource metrics (CPU readiness rules apply), `None` for
/// Pods metrics.
pub fn plain_replicas<'a>(
    ctx: &PodContext<'a>,
    current: i32,
    target_milli: i64,
    resource: Option<&str>,
    tolerances: Tolerances,
    mut samples: Samples<'a>,
) -> Result<Calculation, MetricError> {
    if ctx.pods.is_empty() {
        return Err(MetricError::NoPods);
    }
    let groups = group_pods(ctx.pods, &samples, resource, ctx.cfg, ctx.now);
    remove(&mut samples, groups.ignored.iter().chain(&groups.unready));
    if samples.is_empty() {
        return Err(MetricError::NoReadyPodMetrics);
    }
    let (ratio, usage) = usage_ratio(&samples, target_milli);
    let done = |replicas: i32, within: bool| Calculation {
        replicas,
        utilization_percent: None,
        raw_milli: usage,
        ratio,
        within_tolerance: within,
        adjusted_ratio: None,
        pods_counted: None,
    };

    let scale_up_with_unready = !groups.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && groups.missing.is_empty() {
        if tolerances.is_within(ratio) {
            return Ok(done(current, true));
        }
        return Ok(Calculation {
            pods_counted: Some(groups.ready_count),
            ..done(ceil_to_i32(ratio * groups.ready_count as f64), false)
        });
    }

    if !groups.missing.is_empty() {
        for &name in &groups.missing {
            let value = if ratio < 1.0 {
                target_milli
            } else if ratio > 1.0 {
                0
            } else {
                continue;
            };
            samples.insert(name, placeholder(value, ctx.now));
        }
    }
    if scale_up_with_unready {
        for &name in &groups.unready {
            samples.insert(name, placeholder(0, ctx.now));
        }
    }
    let (new_ratio, _) = usage_ratio(&samples, target_milli);
    recomputed(current, ratio, new_ratio, samples.len(), tolerances).map(|(r, w)| Calculation {
        adjusted_ratio: Some(new_ratio),
        pods_counted: Some(samples.len()),
        ..done(r, w)
    })
}

/// The end of both per-pod calculations once missing and unready pods were
/// filled in: keep the current count when the new ratio is within tolerance or
/// points the other way, or when the new count moves against the ratio.
fn recomputed(
    current: i32,
    ratio: f64,
    new_ratio: f64,
    sample_count: usize,
    tolerances: Tolerances,
) -> Result<(i32, bool), MetricError> {
    let within = tolerances.is_within(new_ratio);
    if within || (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0) {
        return Ok((current, within));
    }
    let replicas = ceil_to_i32(new_ratio * sample_count as f64);
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok((current, false));
    }
    Ok((replicas, false))
}

/// `GetObjectMetricReplicas` and `GetExternalMetricReplicas` (via
/// `getUsageRatioReplicaCount`): a total against a total target, scaled by the
/// ready pods; at zero replicas, tolerance and pods are not considered.
pub fn usage_ratio_replicas(
    pods: &[Pod],
    current: i32,
    usage_milli: i64,
    target_milli: i64,
    tolerances: Tolerances,
) -> Result<Calculation, MetricError> {
    let ratio = usage_milli as f64 / target_milli as f64;
    let done = |replicas: i32, within: bool| Calculation {
        replicas,
        utilization_percent: None,
        raw_milli: usage_milli,
        ratio,
        within_tolerance: within,
        adjusted_ratio: None,
        pods_counted: None,
    };
    if current == 0 {
        return Ok(done(ceil_to_i32(ratio), false));
    }
    if tolerances.is_within(ratio) {
        return Ok(done(current, true));
    }
    let ready = ready_pods_count(pods).map_err(|e| e.context("unable to calculate ready pods"))?;
    Ok(done(ceil_to_i32(ratio * ready as f64), false))
}

/// `GetObjectPerPodMetricReplicas` and `GetExternalPerPodMetricReplicas`: a
/// total against a per-pod target, relative to `status.replicas`.
pub fn per_pod_replicas(
    status_replicas: i32,
    usage_milli: i64,
    target_per_pod_milli: i64,
    tolerances: Tolerances,
) -> Calculation {
    let ratio = usage_milli as f64 / (target_per_pod_milli as f64 * f64::from(status_replicas));
    let within = tolerances.is_within(ratio);
    let replicas = if within {
        status_replicas
    } else {
        ceil_to_i32(usage_milli as f64 / target_per_pod_milli as f64)
    };
    let per_pod = (usage_milli as f64 / f64::from(status_replicas)).ceil();
    Calculation {
        replicas,
        utilization_percent: None,
        raw_milli: if per_pod.is_finite() {
            per_pod as i64
        } else {
            usage_milli
        },
        ratio,
        within_tolerance: within,
        adjusted_ratio: None,
        pods_counted: None,
    }
}

/// `GetResourceUtilizationRatio`: (ratio, truncated utilization %, average raw value).
fn utilization_ratio(
    samples: &Samples,
    requests: &std::collections::BTreeMap<&str, i64>,
    target_utilization: i32,
) -> Result<(f64, i32, i64), MetricError> {
    let mut metrics_total: i128 = 0;
    let mut requests_total: i128 = 0;
    let mut entries: i128 = 0;
    for (name, sample) in samples {
        let Some(&request) = requests.get(name) else {
            continue;
        };
        metrics_total += i128::from(sample.value);
        requests_total += i128::from(request);
        entries += 1;
    }
    if requests_total == 0 {
        return Err(MetricError::NoMatchingMetrics);
    }
    let utilization =
        (metrics_total * 100 / requests_total).clamp(i32::MIN.into(), i32::MAX.into()) as i32;
    let raw = (metrics_total / entries).clamp(i64::MIN.into(), i64::MAX.into()) as i64;
    Ok((
        f64::from(utilization) / f64::from(target_utilization),
        utilization,
        raw,
    ))
}

/// `GetMetricUsageRatio`: (ratio, truncated average value).
fn usage_ratio(samples: &Samples, target_milli: i64) -> (f64, i64) {
    let total: i128 = samples.values().map(|s| i128::from(s.value)).sum();
    let usage = (total / samples.len() as i128).clamp(i64::MIN.into(), i64::MAX.into()) as i64;
    (usage as f64 / target_milli as f64, usage)
}

fn remove<'a>(samples: &mut Samples, names: impl Iterator<Item = &'a &'a str>) {
    for name in names {
        samples.remove(*name);
    }
}

fn placeholder(value: i64, now: Time) -> Sample {
    Sample {
        value,
        timestamp: now,
        window: chrono::Duration::zero(),
    }
}
