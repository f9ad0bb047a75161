//! Which series the engine keeps, from the policies: each metric with a
//! `stream` block gets its window; other metrics of a named target get a 60 s
//! tumbling window; targets no policy names are skipped.

use std::collections::BTreeMap;

use super::engine::{Plan, SeriesPlan};
use super::window::WindowSpec;
use crate::policy::{MetricSourceType, MetricSpec, ScalingPolicy, StreamAggregate};

/// The window every metric gets when nothing else is said.
pub const DEFAULT_WINDOW_MS: i64 = 60_000;

/// `namespace/name` of the policy's target: the Kafka message key of its samples.
pub fn target_key(p: &ScalingPolicy) -> Option<String> {
    let ns = p.metadata.namespace.as_deref().unwrap_or("default");
    p.spec.target.as_ref().map(|t| format!("{ns}/{}", t.name))
}

/// The metric name a metric spec reads from the stream (the resource name
/// for Resource and ContainerResource metrics).
pub fn stream_metric(m: &MetricSpec) -> Option<&str> {
    m.external
        .as_ref()
        .map(|e| e.metric.name.as_str())
        .or_else(|| m.object.as_ref().map(|o| o.metric.name.as_str()))
        .or_else(|| m.pods.as_ref().map(|p| p.metric.name.as_str()))
        .or_else(|| m.resource.as_ref().map(|r| r.name.as_str()))
        .or_else(|| m.container_resource.as_ref().map(|r| r.name.as_str()))
}

/// Per-pod metrics: their samples carry `pod` and are windowed per pod.
pub fn is_per_pod(m: &MetricSpec) -> bool {
    matches!(
        m.source_type,
        MetricSourceType::Pods | MetricSourceType::Resource | MetricSourceType::ContainerResource
    )
}

/// The engine's plan for a set of (valid) policies.
pub fn plan_for<'a>(policies: impl IntoIterator<Item = &'a ScalingPolicy>) -> Plan {
    // A metric no policy names is read by no decision: no sketch for it.
    let default = || SeriesPlan {
        windows: vec![WindowSpec::tumbling(DEFAULT_WINDOW_MS)],
        distinct_label: None,
        per_pod: false,
        quantiles: false,
    };
    let mut plan = Plan::targets(default());
    for p in policies {
        let Some(target) = target_key(p) else {
            continue;
        };
        plan.add(&target, None, default());
        let burst = p.spec.burst_metrics();
        let mut by_metric: BTreeMap<&str, SeriesPlan> = BTreeMap::new();
        for m in p.spec.metrics.iter().chain(&burst) {
            let (Some(st), Some(name)) = (&m.stream, stream_metric(m)) else {
                continue;
            };
            let Ok((size_ms, slide_ms)) = st.window_ms() else {
                continue;
            };
            let series = by_metric.entry(name).or_insert_with(|| SeriesPlan {
                windows: Vec::new(),
                distinct_label: None,
                per_pod: false,
                quantiles: false,
            });
            series.per_pod |= is_per_pod(m);
            series.quantiles |= matches!(
                st.aggregate,
                StreamAggregate::P50
                    | StreamAggregate::P90
                    | StreamAggregate::P95
                    | StreamAggregate::P99
            );
            let spec = WindowSpec { size_ms, slide_ms };
            if !series.windows.contains(&spec) {
                series.windows.push(spec);
            }
            if st.aggregate == StreamAggregate::Distinct {
                series.distinct_label = st.label.clone();
            }
        }
        for (metric, series) in by_metric {
            plan.add(&target, Some(metric), series);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_mode_adds_the_short_window_to_each_stream_metric() {
        let p: ScalingPolicy = serde_saphyr::from_str(
            "apiVersion: scalepilot.io/v1alpha1\nkind: ScalingPolicy\nmetadata: {name: web, namespace: shop}\nspec:\n  target: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 9\n  burst: {window: 5s}\n  metrics:\n  - type: External\n    external: {metric: {name: rps}, target: {type: AverageValue, averageValue: '10'}}\n    stream: {window: 60s, slide: 10s, aggregate: rate}\n",
        )
        .unwrap();
        let plan = plan_for(std::slice::from_ref(&p));
        let windows = &plan.get("shop/web", "rps").unwrap().windows;
        assert_eq!(
            windows,
            &vec![
                WindowSpec {
                    size_ms: 60_000,
                    slide_ms: 10_000
                },
                WindowSpec::tumbling(5_000)
            ],
        );
        let mut calm = p;
        calm.spec.burst = None;
        assert_eq!(
            plan_for(&[calm])
                .get("shop/web", "rps")
                .unwrap()
                .windows
                .len(),
            1
        );
    }
}
