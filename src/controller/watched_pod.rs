//! A Pod as the controller's store keeps it: its metadata (without
//! managedFields, annotations, owner references and labels), its labels in
//! a sorted slice ([`Labels`]), and the decision's view
//! of it (phase, readiness and its transition time, start time, the requests
//! of its containers and sidecars in milli-units), read straight from the API
//! server's JSON. Every other field is skipped unread: a Pod in a real
//! cluster is mostly managedFields, env, volumes, probes and container
//! statuses, and k8s-openapi's `Pod` is several KB even when they are empty
//! (its spec, containers and status are wide structs), so at 20 000 pods the
//! typed store alone was tens of MB.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time as K8sTime};
use serde::Deserialize;

use super::objects::time;
use crate::decide::{zero_time, Container, Pod, PodPhase};
use crate::quantity::Quantity;

/// A watched Pod: what the label index and the decision read.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "PodJson")]
pub struct WatchedPod {
    /// Without labels: they are in `labels`.
    pub metadata: ObjectMeta,
    pub labels: Labels,
    /// The decision's view (its `name` is the Pod's).
    pub pod: Pod,
}

/// A Pod's labels, sorted by key, one allocation per string. In
/// `ObjectMeta` they are a `BTreeMap`, whose first node has room for eleven
/// pairs: about 550 bytes for the usual one to three labels, which at five
/// pods a target was the largest part of a watched Pod (heaptrack, 2 000
/// targets).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels(Box<[(Box<str>, Box<str>)]>);

impl Labels {
    /// The value of label `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let i = self.0.binary_search_by(|(k, _)| (**k).cmp(key)).ok()?;
        Some(&self.0[i].1)
    }

    /// The pairs, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }
}

impl From<BTreeMap<String, String>> for Labels {
    fn from(map: BTreeMap<String, String>) -> Self {
        Labels(map.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PodJson {
    metadata: ObjectMeta,
    spec: Option<SpecJson>,
    status: Option<StatusJson>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct SpecJson {
    containers: Option<Vec<ContainerJson>>,
    init_containers: Option<Vec<ContainerJson>>,
    resources: Option<ResourcesJson>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ContainerJson {
    name: String,
    resources: Option<ResourcesJson>,
    restart_policy: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ResourcesJson {
    requests: Option<BTreeMap<String, K8sQuantity>>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct StatusJson {
    phase: Option<String>,
    start_time: Option<K8sTime>,
    conditions: Option<Vec<ConditionJson>>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ConditionJson {
    #[serde(rename = "type")]
    type_: String,
    status: String,
    last_transition_time: Option<K8sTime>,
}

/// Requests in milli-units; a quantity that does not parse is left out.
fn milli(r: Option<&ResourcesJson>) -> BTreeMap<String, i64> {
    let requests = r.and_then(|r| r.requests.as_ref()).into_iter().flatten();
    requests
        .filter_map(|(k, q)| Some((k.clone(), Quantity::parse(&q.0).ok()?.milli())))
        .collect()
}

impl From<PodJson> for WatchedPod {
    fn from(p: PodJson) -> Self {
        let status = p.status.unwrap_or_default();
        let phase = match status.phase.as_deref() {
            Some("Pending") => PodPhase::Pending,
            Some("Running") => PodPhase::Running,
            Some("Succeeded") => PodPhase::Succeeded,
            Some("Failed") => PodPhase::Failed,
            _ => PodPhase::Unknown,
        };
        let conditions = status.conditions.unwrap_or_default();
        let ready = conditions.iter().find(|c| c.type_ == "Ready");
        let spec = p.spec.unwrap_or_default();
        // A restartable init container (a sidecar) requests like a container.
        let sidecars = spec.init_containers.into_iter().flatten();
        let sidecars = sidecars.filter(|c| c.restart_policy.as_deref() == Some("Always"));
        let containers = spec.containers.into_iter().flatten().chain(sidecars);
        let mut metadata = p.metadata;
        metadata.managed_fields = None;
        metadata.annotations = None;
        metadata.owner_references = None;
        let labels = Labels::from(metadata.labels.take().unwrap_or_default());
        let pod = Pod {
            name: metadata.name.clone().unwrap_or_default(),
            phase,
            ready: ready.map(|c| c.status == "True"),
            ready_transition_time: ready
                .and_then(|c| c.last_transition_time.as_ref())
                .map_or_else(zero_time, |t| time(&t.0)),
            deleted: metadata.deletion_timestamp.is_some(),
            start_time: status.start_time.as_ref().map(|t| time(&t.0)),
            containers: containers
                .map(|c| Container {
                    requests: milli(c.resources.as_ref()),
                    name: c.name,
                })
                .collect(),
            pod_requests: milli(spec.resources.as_ref()),
        };
        WatchedPod {
            metadata,
            labels,
            pod,
        }
    }
}

impl kube::Resource for WatchedPod {
    type DynamicType = ();
    type Scope = kube::core::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Pod".into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "pods".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_convert_with_readiness_and_requests() {
        let p: WatchedPod = serde_json::from_value(serde_json::json!({
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
        let got = p.pod;
        assert_eq!(got.name, "web-1");
        assert_eq!(got.phase, PodPhase::Running);
        assert_eq!(got.ready, Some(false));
        assert_eq!(
            got.ready_transition_time.to_rfc3339(),
            "2026-11-26T10:00:30+00:00"
        );
        assert_eq!(
            got.start_time.unwrap().to_rfc3339(),
            "2026-11-26T10:00:00+00:00"
        );
        assert_eq!(
            got.containers.len(),
            2,
            "the sidecar counts, the init container does not"
        );
        assert_eq!(got.containers[0].requests["cpu"], 250);
        assert_eq!(got.containers[0].requests["memory"], 1_073_741_824_000);
        assert_eq!(got.containers[1].name, "proxy");
        assert_eq!(got.containers[1].requests["cpu"], 50);
        assert!(!got.deleted);
        assert_eq!(p.labels.get("app"), Some("web"));
    }

    #[test]
    fn a_pod_without_spec_or_status_is_unknown_and_never_ready() {
        let p: WatchedPod =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "bare"}, "spec": null}))
                .unwrap();
        assert_eq!(p.pod.phase, PodPhase::Unknown);
        assert_eq!(p.pod.ready, None);
        assert_eq!(p.pod.ready_transition_time, zero_time());
        assert!(p.pod.containers.is_empty() && p.pod.pod_requests.is_empty());
    }

    /// A Pod as a real cluster serves it: managedFields, env, volumes,
    /// probes, statuses of every kind.
    fn full_pod() -> serde_json::Value {
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
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web-1", "namespace": "shop", "labels": {"app": "web", "pod-template-hash": "abc"},
                "resourceVersion": "77",
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
        })
    }

    #[test]
    fn a_full_pod_keeps_what_the_decision_and_the_index_read() {
        let p: WatchedPod = serde_json::from_value(full_pod()).unwrap();
        let names: Vec<&str> = p.pod.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["app", "log", "proxy"],
            "two containers, one sidecar"
        );
        assert_eq!(p.pod.containers[1].requests["cpu"], 100);
        assert_eq!(p.pod.pod_requests["cpu"], 500);
        assert!(p.pod.deleted);
        assert_eq!(
            p.pod.ready,
            Some(true),
            "the Ready condition, not the first"
        );
        assert_eq!(
            p.pod.ready_transition_time.to_rfc3339(),
            "2026-11-26T10:00:30+00:00"
        );
        assert_eq!(p.labels.get("pod-template-hash"), Some("abc"));
        assert_eq!(p.labels.get("app"), Some("web"));
        assert_eq!(p.labels.get("tier"), None);
        let pairs: Vec<_> = p.labels.iter().collect();
        assert_eq!(pairs, [("app", "web"), ("pod-template-hash", "abc")]);
        let m = &p.metadata;
        assert!(m.labels.is_none(), "kept once, in `labels`");
        assert_eq!(m.namespace.as_deref(), Some("shop"));
        assert_eq!(m.resource_version.as_deref(), Some("77"));
        assert!(m.managed_fields.is_none() && m.annotations.is_none());
        assert!(m.owner_references.is_none());
    }
}
