//! From Kubernetes objects to the plain inputs of `decide`: a Pod's phase,
//! readiness and its transition time, start time and requests (in
//! milli-units); and what of the watched objects the stores keep (the fields
//! read here and by the pod index, nothing else: a Pod in a real cluster is
//! mostly managedFields, env, volumes and container statuses).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container as K8sContainer, Pod as K8sPod, PodCondition, PodSpec, PodStatus,
    ResourceRequirements,
};
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

/// A restartable init container (a sidecar): it requests like a container.
fn is_sidecar(c: &K8sContainer) -> bool {
    c.restart_policy.as_deref() == Some("Always")
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
    let sidecars = spec
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| is_sidecar(c));
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

/// Only the requests of a container's resources.
fn requests_only(r: Option<ResourceRequirements>) -> Option<ResourceRequirements> {
    r.map(|r| ResourceRequirements {
        requests: r.requests,
        ..Default::default()
    })
}

fn slim_container(c: K8sContainer) -> K8sContainer {
    K8sContainer {
        name: c.name,
        resources: requests_only(c.resources),
        restart_policy: c.restart_policy,
        ..Default::default()
    }
}

/// Strips a watched Pod down to what [`pod`] and the label index read (name,
/// namespace, labels, deletion, containers' names and requests, sidecars,
/// pod-level requests, phase, the Ready condition, start time), before the
/// reflector stores it.
pub fn slim_pod(p: &mut K8sPod) {
    let meta = &mut p.metadata;
    meta.managed_fields = None;
    meta.annotations = None;
    meta.owner_references = None;
    if let Some(spec) = p.spec.take() {
        p.spec = Some(PodSpec {
            containers: spec.containers.into_iter().map(slim_container).collect(),
            init_containers: spec.init_containers.map(|cs| {
                cs.into_iter()
                    .filter(is_sidecar)
                    .map(slim_container)
                    .collect()
            }),
            resources: requests_only(spec.resources),
            ..Default::default()
        });
    }
    if let Some(status) = p.status.take() {
        p.status = Some(PodStatus {
            phase: status.phase,
            start_time: status.start_time,
            conditions: status.conditions.map(|cs| {
                cs.into_iter()
                    .filter(|c| c.type_ == "Ready")
                    .map(|c| PodCondition {
                        type_: c.type_,
                        status: c.status,
                        last_transition_time: c.last_transition_time,
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        });
    }
}

/// Strips a watched target (any kind) to its metadata without managedFields:
/// the controller reads a target's name, resourceVersion and annotations from
/// the store, and its replicas and selector from `/scale`.
pub fn slim_target(o: &mut kube::api::DynamicObject) {
    o.metadata.managed_fields = None;
    o.data = serde_json::Value::Null;
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

    /// A Pod as a real cluster serves it: managedFields, env, volumes,
    /// probes, statuses of every kind.
    fn full_pod() -> K8sPod {
        let c = |name: &str, restart: Option<&str>, cpu: &str| {
            serde_json::json!({
                "name": name, "image": "registry.example/app:1.2.3", "restartPolicy": restart,
                "command": ["/bin/app", "--serve"], "args": ["--port", "8080"],
                "env": [{"name": "A", "value": "x".repeat(200)}, {"name": "B", "value": "y"}],
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}
            })
        };
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "web-1", "namespace": "shop", "labels": {"app": "web", "pod-template-hash": "abc"},
                "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-26T10:00:00Z"},
                "deletionTimestamp": "2026-11-26T11:00:00Z",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u1"}],
                "managedFields": [{"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
                                   "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:phase": {}}}}]
            },
            "spec": {
                "containers": [c("app", None, "250m"), c("log", None, "100m")],
                "initContainers": [c("proxy", Some("Always"), "50m"), c("setup", None, "2")],
                "resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": "4"}},
                "volumes": [{"name": "data", "emptyDir": {}}],
                "nodeName": "node-1", "serviceAccountName": "web",
                "tolerations": [{"key": "k", "operator": "Exists"}]
            },
            "status": {
                "phase": "Running", "podIP": "10.0.0.1", "hostIP": "192.168.0.1",
                "startTime": "2026-11-26T10:00:00Z",
                "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-26T09:59:59Z"},
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-26T10:00:30Z", "reason": "r", "message": "m"}
                ],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "i", "imageID": "id",
                                       "state": {"running": {"startedAt": "2026-11-26T10:00:10Z"}}}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_slimmed_pod_converts_and_selects_as_the_full_one_in_a_fraction_of_the_bytes() {
        let full = full_pod();
        let mut slim = full.clone();
        slim_pod(&mut slim);
        assert_eq!(pod(&slim), pod(&full));
        assert_eq!(
            pod(&slim).containers.len(),
            3,
            "two containers, one sidecar"
        );
        assert!(pod(&slim).deleted);
        assert_eq!(slim.metadata.labels, full.metadata.labels);
        assert_eq!(slim.metadata.namespace.as_deref(), Some("shop"));
        let size = |p: &K8sPod| serde_json::to_string(p).unwrap().len();
        assert!(
            size(&slim) * 3 < size(&full),
            "{} of {} bytes kept",
            size(&slim),
            size(&full)
        );
    }

    #[test]
    fn a_slimmed_target_keeps_its_metadata_only() {
        let mut o: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "42",
                         "annotations": {"scalepilot.io/history": "{}"},
                         "managedFields": [{"manager": "kubectl", "operation": "Apply"}]},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "app", "image": "x"}]}}}
        }))
        .unwrap();
        slim_target(&mut o);
        assert_eq!(o.metadata.resource_version.as_deref(), Some("42"));
        assert_eq!(annotation(&o.metadata, "scalepilot.io/history"), Some("{}"));
        assert_eq!(o.metadata.managed_fields, None);
        assert_eq!(o.data, serde_json::Value::Null);
    }
}
