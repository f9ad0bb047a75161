//! From windows to decision inputs: each metric with a `stream` block is
//! observed as the chosen aggregate of its latest closed window (complete,
//! so every replica and every replay reads the same number).

use std::collections::BTreeMap;

use super::plan::{is_per_pod, stream_metric};
use super::window::WindowFeatures;
use crate::decide::{Observation, PodSample, Time};
use crate::policy::{MetricSourceType, MetricSpec, PolicySpec, StreamAggregate};

/// The aggregate of one window.
pub fn aggregate(w: &WindowFeatures, a: StreamAggregate) -> Option<f64> {
    match a {
        StreamAggregate::Count => Some(w.count as f64),
        StreamAggregate::Sum => Some(w.sum),
        StreamAggregate::Rate => Some(w.rate),
        StreamAggregate::Mean => w.mean,
        StreamAggregate::Min => w.min,
        StreamAggregate::Max => w.max,
        StreamAggregate::P50 => w.quantiles.p50,
        StreamAggregate::P90 => w.quantiles.p90,
        StreamAggregate::P95 => w.quantiles.p95,
        StreamAggregate::P99 => w.quantiles.p99,
        StreamAggregate::Distinct => w.distinct.map(|d| d as f64),
        StreamAggregate::Ewma => w.ewma,
    }
}

/// Each pod's latest closed window of a per-pod metric, as per-pod samples.
fn per_pod(
    source_type: MetricSourceType,
    name: &str,
    a: StreamAggregate,
    window: &str,
    size_ms: i64,
    windows: &[WindowFeatures],
) -> Observation {
    let mut latest: BTreeMap<&str, &WindowFeatures> = BTreeMap::new();
    for w in windows
        .iter()
        .filter(|w| w.closed && w.metric == name && w.window_end - w.window_start == size_ms)
    {
        let Some(pod) = w.pod.as_deref() else {
            continue;
        };
        if latest.get(pod).is_none_or(|l| l.window_end < w.window_end) {
            latest.insert(pod, w);
        }
    }
    let pods: BTreeMap<String, PodSample> = latest
        .into_iter()
        .filter_map(|(pod, w)| {
            let v = aggregate(w, a)?;
            let sample = PodSample {
                value: Some((v * 1000.0).round() as i64),
                containers: BTreeMap::new(),
                timestamp: Time::from_timestamp_millis(w.window_end).unwrap_or_default(),
                window: chrono::Duration::milliseconds(size_ms),
            };
            Some((pod.to_string(), sample))
        })
        .collect();
    let error = pods
        .is_empty()
        .then(|| format!("no closed {window} window of per-pod stream metric {name} yet"));
    Observation {
        source_type,
        name: name.to_string(),
        pods,
        value: None,
        values: Vec::new(),
        error,
    }
}

/// The observation of one stream metric `m` from the windows of its target,
/// or None when `m` has no (valid) `stream` block. A metric without a closed
/// window yet is observed as an error, so the decision chain treats it as the
/// HPA treats a missing metric. Per-pod metrics (Pods, Resource) get each
/// pod's latest closed window; a pod without one is a pod without a sample.
pub fn observe_metric(m: &MetricSpec, windows: &[WindowFeatures]) -> Option<Observation> {
    let (Some(st), Some(name)) = (&m.stream, stream_metric(m)) else {
        return None;
    };
    let (size_ms, _) = st.window_ms().ok()?;
    if is_per_pod(m) {
        return Some(per_pod(
            m.source_type.clone(),
            name,
            st.aggregate,
            &st.window,
            size_ms,
            windows,
        ));
    }
    let latest = windows
        .iter()
        .filter(|w| w.closed && w.metric == name && w.window_end - w.window_start == size_ms)
        .max_by_key(|w| w.window_end);
    let value = latest.and_then(|w| aggregate(w, st.aggregate));
    let milli = value.map(|v| (v * 1000.0).round() as i64);
    let error = milli
        .is_none()
        .then(|| format!("no closed {} window of stream metric {name} yet", st.window));
    Some(Observation {
        source_type: m.source_type.clone(),
        name: name.to_string(),
        pods: Default::default(),
        value: if m.source_type == MetricSourceType::Object {
            milli
        } else {
            None
        },
        values: if m.source_type == MetricSourceType::External {
            milli.into_iter().collect()
        } else {
            Vec::new()
        },
        error,
    })
}

/// Observations for the stream metrics of `spec` (see [`observe_metric`]).
pub fn observations(spec: &PolicySpec, windows: &[WindowFeatures]) -> Vec<Observation> {
    spec.metrics
        .iter()
        .filter_map(|m| observe_metric(m, windows))
        .collect()
}
