//! The metrics.k8s.io source: `Resource` and `ContainerResource` metrics
//! (cpu, memory) from the `metrics.k8s.io/v1beta1` PodMetrics of the target's
//! pods, listed with the target's selector, exactly as the HPA's resource
//! metrics client reads them (`pkg/controller/podautoscaler/metrics/client.go`):
//!
//! - a pod's value is the sum of its containers' usage, in milli-units; a pod
//!   with no containers, or a container without the resource, has no sample;
//! - a container metric is that container's usage (pods without it have none);
//! - each sample keeps its PodMetrics `timestamp` and `window`, which the
//!   decision chain's pod grouping reads (CPU initialization period,
//!   readiness delay, missing pods).
//!
//! Refreshed on the ticks of each target, never more often than
//! `min_interval` (metrics-server's resolution is 15 s). A failed list is an
//! error observation: the chain treats the metric as the HPA treats a failed
//! metrics API (no scale-down on it).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Client};
use serde::Deserialize;

use super::{Missing, Observed, Source, SourceError, SourceKind, Target};
use crate::decide::{Observation, PodSample, Time};
use crate::policy::{MetricSourceType, MetricSpec};
use crate::quantity::Quantity;

/// A PodMetrics object (`metrics.k8s.io/v1beta1`), the fields the HPA reads.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct PodMetrics {
    pub metadata: PodMetricsMeta,
    pub timestamp: Time,
    /// A Go duration (`15s`, `1m0.5s`, `15.012s`).
    pub window: String,
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct PodMetricsMeta {
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ContainerMetrics {
    pub name: String,
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

/// Parses a Go `time.Duration` string (`1h2m3.5s`, `500ms`, `0s`).
fn go_duration(text: &str) -> Option<chrono::Duration> {
    let mut rest = text.trim();
    let negative = rest.starts_with('-');
    rest = rest.trim_start_matches(['-', '+']);
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(chrono::Duration::zero());
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += n * scale;
        rest = &rest[unit_end..];
    }
    // A window beyond a day is no metrics-server window: refuse it rather
    // than let it stretch the pod grouping.
    if !(0.0..=86_400e9).contains(&nanos) {
        return None;
    }
    let d = chrono::Duration::nanoseconds(nanos.round() as i64);
    Some(if negative { -d } else { d })
}

/// The observation of metric `m` (Resource or ContainerResource) from a
/// listing of PodMetrics; pods whose sample cannot be read are left out, as
/// the HPA leaves them out (they count as missing pods).
pub fn pod_metrics_observation(m: &MetricSpec, items: &[PodMetrics]) -> Observation {
    let (name, container) = match (&m.resource, &m.container_resource) {
        (_, Some(c)) if m.source_type == MetricSourceType::ContainerResource => {
            (c.name.clone(), Some(c.container.as_str()))
        }
        (Some(r), _) => (r.name.clone(), None),
        _ => (String::new(), None),
    };
    let mut pods = BTreeMap::new();
    for item in items {
        let Some(window) = go_duration(&item.window) else {
            continue;
        };
        let usage = |c: &ContainerMetrics| {
            c.usage
                .get(&name)
                .and_then(|q| Quantity::parse(q).ok())
                .map(|q| q.milli())
        };
        let mut containers = BTreeMap::new();
        let sample = match container {
            Some(want) => {
                let Some(v) = item
                    .containers
                    .iter()
                    .find(|c| c.name == want)
                    .and_then(usage)
                else {
                    continue;
                };
                containers.insert(want.to_string(), v);
                None
            }
            None => {
                if item.containers.is_empty() {
                    continue;
                }
                let mut sum = 0i64;
                let mut complete = true;
                for c in &item.containers {
                    match usage(c) {
                        Some(v) => {
                            sum = sum.saturating_add(v);
                            containers.insert(c.name.clone(), v);
                        }
                        None => complete = false,
                    }
                }
                if !complete {
                    continue;
                }
                Some(sum)
            }
        };
        pods.insert(
            item.metadata.name.clone(),
            PodSample {
                value: sample,
                containers,
                timestamp: item.timestamp,
                window,
            },
        );
    }
    Observation {
        source_type: m.source_type.clone(),
        name,
        pods,
        value: None,
        values: Vec::new(),
        error: None,
    }
}

/// One target's last listing.
struct Fetched {
    at: Instant,
    items: Result<Vec<PodMetrics>, SourceError>,
}

/// PodMetrics listings per target, refreshed at most every `min_interval`.
pub struct MetricsApi {
    client: Client,
    min_interval: Duration,
    cache: Mutex<HashMap<String, Fetched>>,
}

impl MetricsApi {
    pub fn new(client: Client, min_interval: Duration) -> Self {
        MetricsApi {
            client,
            min_interval,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn resource() -> ApiResource {
        ApiResource {
            group: "metrics.k8s.io".into(),
            version: "v1beta1".into(),
            api_version: "metrics.k8s.io/v1beta1".into(),
            kind: "PodMetrics".into(),
            plural: "pods".into(),
        }
    }

    async fn list(&self, namespace: &str, selector: &str) -> Result<Vec<PodMetrics>, SourceError> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &Self::resource());
        let list = api
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(SourceError::MetricsApi)?;
        list.items
            .into_iter()
            .map(|o| {
                serde_json::to_value(&o)
                    .and_then(serde_json::from_value::<PodMetrics>)
                    .map_err(|source| SourceError::PodMetrics {
                        namespace: namespace.to_string(),
                        name: o.metadata.name.clone().unwrap_or_default(),
                        source,
                    })
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Fetched>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Source for MetricsApi {
    fn kind(&self) -> SourceKind {
        SourceKind::MetricsApi
    }

    fn refresh<'a>(&'a self, target: &'a Target<'a>, _: Vec<&'a MetricSpec>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let fresh = self
                .lock()
                .get(target.key)
                .is_some_and(|f| f.at.elapsed() < self.min_interval);
            let Some(selector) = target.selector.filter(|_| !fresh) else {
                return;
            };
            let items = self.list(target.namespace, selector).await;
            if let Err(e) = &items {
                tracing::debug!(target = %target.key, error = %e, "listing PodMetrics failed");
            }
            let mut cache = self.lock();
            // Targets no tick asked for in ten intervals are gone: forget them.
            let horizon = self.min_interval.max(Duration::from_secs(1)) * 10;
            cache.retain(|_, f| f.at.elapsed() < horizon);
            cache.insert(
                target.key.to_string(),
                Fetched {
                    at: Instant::now(),
                    items,
                },
            );
        })
    }

    fn observe(&self, target: &Target<'_>, m: &MetricSpec, _now: Time) -> Observed {
        let kind = Some(SourceKind::MetricsApi);
        if target.selector.is_none() {
            return Observed::missing(
                m,
                kind,
                "no_selector",
                format!("{} has no label selector to find its pods", target.key),
            );
        }
        let cache = self.lock();
        let Some(fetched) = cache.get(target.key) else {
            return Observed::missing(m, kind, "fetch_failed", "no PodMetrics read yet".into());
        };
        let items = match &fetched.items {
            Ok(items) => items,
            Err(e) => return Observed::missing(m, kind, "fetch_failed", e.to_string()),
        };
        let observation = pod_metrics_observation(m, items);
        let at = observation.pods.values().map(|s| s.timestamp).max();
        let missing = observation.pods.is_empty().then(|| Missing {
            code: "no_pod_metrics",
            message: format!(
                "no metrics returned from resource metrics API for {} ({} PodMetrics listed)",
                target.key,
                items.len()
            ),
        });
        Observed {
            source: kind,
            observation,
            at,
            missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> MetricSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn items() -> Vec<PodMetrics> {
        serde_json::from_value(serde_json::json!([
            {"metadata": {"name": "web-a"}, "timestamp": "2026-01-01T00:00:00Z", "window": "15.012s",
             "containers": [{"name": "app", "usage": {"cpu": "250m", "memory": "100Mi"}},
                            {"name": "proxy", "usage": {"cpu": "50m", "memory": "20Mi"}}]},
            {"metadata": {"name": "web-b"}, "timestamp": "2026-01-01T00:00:05Z", "window": "1m0s",
             "containers": [{"name": "app", "usage": {"cpu": "1", "memory": "1Gi"}},
                            {"name": "proxy", "usage": {"memory": "20Mi"}}]},
            {"metadata": {"name": "web-c"}, "timestamp": "2026-01-01T00:00:05Z", "window": "30s",
             "containers": []},
            {"metadata": {"name": "web-d"}, "timestamp": "2026-01-01T00:00:05Z", "window": "forever",
             "containers": [{"name": "app", "usage": {"cpu": "1"}}]}
        ]))
        .unwrap()
    }

    #[test]
    fn pods_sum_their_containers_and_skip_what_the_hpa_skips() {
        let m = spec("{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}");
        let o = pod_metrics_observation(&m, &items());
        // web-b lacks cpu in one container, web-c has none, web-d's window is unreadable.
        assert_eq!(o.pods.keys().collect::<Vec<_>>(), ["web-a"]);
        let a = &o.pods["web-a"];
        assert_eq!(a.value, Some(300));
        assert_eq!(a.window, chrono::Duration::milliseconds(15_012));
        assert_eq!(a.timestamp.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(o.error, None);
    }

    #[test]
    fn a_container_metric_reads_that_container_only() {
        let m = spec("{type: ContainerResource, containerResource: {name: cpu, container: app, target: {type: Utilization, averageUtilization: 50}}}");
        let o = pod_metrics_observation(&m, &items());
        assert_eq!(o.pods.keys().collect::<Vec<_>>(), ["web-a", "web-b"]);
        assert_eq!(o.pods["web-b"].containers["app"], 1000);
        assert_eq!(o.pods["web-b"].value, None);
        assert_eq!(o.pods["web-b"].window, chrono::Duration::seconds(60));
        let mem = spec("{type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: 1Gi}}}");
        let o = pod_metrics_observation(&mem, &items());
        assert_eq!(
            o.pods["web-b"].value,
            Some((1 << 30) * 1000 + 20 * (1 << 20) * 1000)
        );
    }

    #[test]
    fn go_durations() {
        let ms = |t: &str| go_duration(t).map(|d| d.num_milliseconds());
        assert_eq!(ms("15s"), Some(15_000));
        assert_eq!(ms("1m0.5s"), Some(60_500));
        assert_eq!(ms("1h2m3s"), Some(3_723_000));
        assert_eq!(ms("500ms"), Some(500));
        assert_eq!(ms("0s"), Some(0));
        assert_eq!(ms("0"), Some(0));
        for bad in ["", "15", "1x", "s", "25h", "9999999999999999999h"] {
            assert_eq!(ms(bad), None, "{bad}");
        }
    }
}
