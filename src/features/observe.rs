//! From windows to decision inputs: each metric with a `stream` block is
//! observed as the chosen aggregate of its latest closed window (complete,
//! so every replica and every replay reads the same number).

use super::plan::stream_metric;
use super::window::WindowFeatures;
use crate::decide::Observation;
use crate::policy::{MetricSourceType, PolicySpec, StreamAggregate};

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
    }
}

/// Observations for the stream metrics of `spec`, from the windows of its
/// target. A metric without a closed window yet is observed as an error, so
/// the decision chain treats it as the HPA treats a missing metric.
pub fn observations(spec: &PolicySpec, windows: &[WindowFeatures]) -> Vec<Observation> {
    let mut out = Vec::new();
    for m in &spec.metrics {
        let (Some(st), Some(name)) = (&m.stream, stream_metric(m)) else {
            continue;
        };
        let Ok((size_ms, _)) = st.window_ms() else {
            continue;
        };
        let latest = windows
            .iter()
            .filter(|w| w.closed && w.metric == name && w.window_end - w.window_start == size_ms)
            .max_by_key(|w| w.window_end);
        let value = latest.and_then(|w| aggregate(w, st.aggregate));
        let milli = value.map(|v| (v * 1000.0).round() as i64);
        let error = milli
            .is_none()
            .then(|| format!("no closed {} window of stream metric {name} yet", st.window));
        out.push(Observation {
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
        });
    }
    out
}
