//! From Kubernetes objects to the plain inputs of `decide`: a Pod's phase,
//! readiness and its transition time, start time and requests (in
//! milli-units).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container as K8sContainer, Pod as K8sPod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::jiff::Timestamp;

use crate::decide::{zero_time, Container, Pod, PodPhase, Time};
use crate::quantity::Quantity;

/// A Kubernetes timestamp as a `decide` time.
pub fn time(t: &Timestamp) -> Time {
    Time::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32)
        .unwrap_or_else(zero_time)
}

fn milli(requests: Option<&BTreeMap<String, K8sQuantity>>) -> BTreeMap<String, i64> {
    requests
        .into_iter()
        .flatten()
        .filter_map(|(k, q)| Some((k.clone(), Quantity::parse(&q.0).ok()?.milli())))
        .collect()
}

fn container(c: &K8sContainer) -> Container {
    Container {
        name: c.name.clone(),
        requests: milli(c.resources.as_ref().and_then(|r| r.requests.as_ref())),
    }
}

/// The parts of a Pod the decision chain reads.
pub fn pod(p: &K8sPod) -> Pod {
    let status = p.status.as_ref();
    let phase = match status.and_then(|s| s.phase.as_deref()) {
        Some("Pending") => PodPhase::Pending,
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        _ => PodPhase::Unknown,
    };
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
    let spec = p.spec.as_ref();
    // Restartable init containers (sidecars) request like containers.
    let sidecars = spec
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    Pod {
        name: p.metadata.name.clone().unwrap_or_default(),
        phase,
        ready: ready.map(|c| c.status == "True"),
        ready_transition_time: ready
            .and_then(|c| c.last_transition_time.as_ref())
            .map_or_else(zero_time, |t| time(&t.0)),
        deleted: p.metadata.deletion_timestamp.is_some(),
        start_time: status
            .and_then(|s| s.start_time.as_ref())
            .map(|t| time(&t.0)),
        containers: spec
            .map(|s| s.containers.iter().chain(sidecars).map(container).collect())
            .unwrap_or_default(),
        pod_requests: milli(
            spec.and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref()),
        ),
    }
}

/// Annotations of an object, or none.
pub fn annotation<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_convert_with_readiness_and_requests() {
        let p: K8sPod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1", "labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}}}],
                "initContainers": [
                    {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
                    {"name": "setup", "resources": {"requests": {"cpu": "2"}}}
                ]
            },
            "status": {
                "phase": "Running",
                "startTime": "2026-11-26T10:00:00Z",
                "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "2026-11-26T10:00:30Z"}]
            }
        }))
        .unwrap();
        let got = pod(&p);
        assert_eq!(got.phase, PodPhase::Running);
        assert_eq!(got.ready, Some(false));
        assert_eq!(
            got.ready_transition_time.to_rfc3339(),
            "2026-11-26T10:00:30+00:00"
        );
        assert_eq!(
            got.containers.len(),
            2,
            "the sidecar counts, the init container does not"
        );
        assert_eq!(got.containers[0].requests["cpu"], 250);
        assert_eq!(got.containers[0].requests["memory"], 1_073_741_824_000);
        assert_eq!(got.containers[1].requests["cpu"], 50);
        assert!(!got.deleted);
    }
}
