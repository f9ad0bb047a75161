//! The table of resource types the test API server serves, their discovery
//! documents, and the per-type knowledge the generic store needs (where an
//! object is stored, which subresources it has, how a served version maps to
//! the stored form).

use serde_json::{json, Map, Value};

/// How the served form of a resource relates to its stored form.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum View {
    /// Served as stored.
    Native,
    /// `events.k8s.io/v1` Event, stored as a core `v1` Event (as the real
    /// apiserver does: both APIs show the same objects, with renamed fields).
    EventsV1,
}

/// One served resource (group, version, plural).
#[derive(Debug)]
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    /// Namespaced, or cluster-scoped (Namespace).
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Subresources served under `.../{name}/{sub}`: "scale", "status".
    pub subresources: &'static [&'static str],
    /// Storage key: two resources with the same key share their objects.
    pub storage: &'static str,
    /// Whether writes maintain metadata.generation (types with a spec).
    pub has_generation: bool,
    pub view: View,
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

pub static RESOURCES: &[ResourceType] = &[
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        namespaced: true,
        short_names: &["deploy"],
        categories: &["all"],
        subresources: &["scale", "status"],
        storage: "deployments.apps",
        has_generation: true,
        view: View::Native,
    },
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        singular: "statefulset",
        kind: "StatefulSet",
        namespaced: true,
        short_names: &["sts"],
        categories: &["all"],
        subresources: &["scale", "status"],
        storage: "statefulsets.apps",
        has_generation: true,
        view: View::Native,
    },
    // No /scale: nothing can scale a DaemonSet.
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        singular: "daemonset",
        kind: "DaemonSet",
        namespaced: true,
        short_names: &["ds"],
        categories: &["all"],
        subresources: &["status"],
        storage: "daemonsets.apps",
        has_generation: true,
        view: View::Native,
    },
    // A custom resource with a /scale subresource, as Argo Rollouts' CRD
    // declares it (specReplicasPath .spec.replicas, statusReplicasPath
    // .status.replicas, labelSelectorPath .status.selector).
    ResourceType {
        group: "argoproj.io",
        version: "v1alpha1",
        plural: "rollouts",
        singular: "rollout",
        kind: "Rollout",
        namespaced: true,
        short_names: &["ro"],
        categories: &["all"],
        subresources: &["scale", "status"],
        storage: "rollouts.argoproj.io",
        has_generation: true,
        view: View::Native,
    },
    // A custom resource without /scale: nothing can scale it.
    ResourceType {
        group: "argoproj.io",
        version: "v1alpha1",
        plural: "analysisruns",
        singular: "analysisrun",
        kind: "AnalysisRun",
        namespaced: true,
        short_names: &["ar"],
        categories: &[],
        subresources: &["status"],
        storage: "analysisruns.argoproj.io",
        has_generation: true,
        view: View::Native,
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        subresources: &[],
        storage: "namespaces",
        has_generation: false,
        view: View::Native,
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        short_names: &["po"],
        categories: &["all"],
        subresources: &["status"],
        storage: "pods",
        has_generation: true,
        view: View::Native,
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        storage: "events",
        has_generation: false,
        view: View::Native,
    },
    ResourceType {
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        storage: "events",
        has_generation: false,
        view: View::EventsV1,
    },
    ResourceType {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        singular: "lease",
        kind: "Lease",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "leases.coordination.k8s.io",
        has_generation: false,
        view: View::Native,
    },
    ResourceType {
        group: "autoscaling",
        version: "v2",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        kind: "HorizontalPodAutoscaler",
        namespaced: true,
        short_names: &["hpa"],
        categories: &["all"],
        subresources: &["status"],
        storage: "horizontalpodautoscalers.autoscaling",
        has_generation: true,
        view: View::Native,
    },
    // metrics-server's API, read-only: tests `put` PodMetrics (with their
    // pod's labels, as metrics-server copies them) and clients get and list.
    ResourceType {
        group: "metrics.k8s.io",
        version: "v1beta1",
        plural: "pods",
        singular: "",
        kind: "PodMetrics",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "pods.metrics.k8s.io",
        has_generation: false,
        view: View::Native,
    },
    ResourceType {
        group: "metrics.k8s.io",
        version: "v1beta1",
        plural: "nodes",
        singular: "",
        kind: "NodeMetrics",
        namespaced: false,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "nodes.metrics.k8s.io",
        has_generation: false,
        view: View::Native,
    },
];

/// Group versions served, in discovery order (core first, then groups). A
/// group version may serve no resource (autoscaling/v1 is listed so that
/// clients resolving the Scale kind find it, but serves no HPA conversion).
pub const GROUP_VERSIONS: &[(&str, &str)] = &[
    ("", "v1"),
    ("apps", "v1"),
    ("events.k8s.io", "v1"),
    ("autoscaling", "v2"),
    ("autoscaling", "v1"),
    ("coordination.k8s.io", "v1"),
    ("metrics.k8s.io", "v1beta1"),
    ("argoproj.io", "v1alpha1"),
];

/// Preferred version of each group (the first listed wins).
fn preferred_version(group: &str) -> &'static str {
    GROUP_VERSIONS
        .iter()
        .find(|(g, _)| *g == group)
        .map(|(_, v)| *v)
        .unwrap_or("v1")
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        api_version(self.group, self.version)
    }

    /// `deployments.apps`, or `pods` for the core group: how the real server
    /// names the resource in error messages.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Deployment.apps`, or `Pod`: how the real server names the kind in
    /// validation messages.
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// The verbs served: the metrics API serves get and list only.
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.group == "metrics.k8s.io" {
            &["get", "list"]
        } else {
            VERBS
        }
    }

    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.contains(&sub)
    }

    /// `apiVersion` and `kind` of the stored form.
    pub fn storage_type(&self) -> (String, &'static str) {
        match self.view {
            View::Native => (self.api_version(), self.kind),
            View::EventsV1 => ("v1".to_string(), "Event"),
        }
    }

    /// Stored form -> served form.
    pub fn to_view(&self, stored: &Value) -> Value {
        let mut obj = stored.clone();
        if let View::EventsV1 = self.view {
            rename_fields(&mut obj, EVENT_FIELDS, false);
        }
        set_type(&mut obj, &self.api_version(), self.kind);
        obj
    }

    /// Served form -> stored form.
    pub fn to_stored(&self, served: Value) -> Value {
        let mut obj = served;
        if let View::EventsV1 = self.view {
            rename_fields(&mut obj, EVENT_FIELDS, true);
        }
        let (api_version, kind) = self.storage_type();
        set_type(&mut obj, &api_version, kind);
        obj
    }

    /// The APIResource entries of this resource and its subresources.
    fn discovery_entries(&self) -> Vec<Value> {
        let mut out = vec![json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": self.verbs(),
            "shortNames": self.short_names,
            "categories": self.categories,
            "storageVersionHash": storage_version_hash(self),
        })];
        let entry = out[0].as_object_mut().expect("object");
        if self.short_names.is_empty() {
            entry.remove("shortNames");
        }
        if self.categories.is_empty() {
            entry.remove("categories");
        }
        for sub in self.subresources {
            let mut e = json!({
                "name": format!("{}/{}", self.plural, sub),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            });
            if *sub == "scale" {
                e["group"] = json!("autoscaling");
                e["version"] = json!("v1");
                e["kind"] = json!("Scale");
            }
            out.push(e);
        }
        out
    }
}

/// events.k8s.io/v1 field name -> core v1 field name.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

fn rename_fields(obj: &mut Value, pairs: &[(&str, &str)], to_core: bool) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    for (events_v1, core) in pairs {
        let (from, to) = if to_core {
            (*events_v1, *core)
        } else {
            (*core, *events_v1)
        };
        if let Some(v) = map.remove(from) {
            map.insert(to.to_string(), v);
        }
    }
}

fn set_type(obj: &mut Value, api_version: &str, kind: &str) {
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), json!(api_version));
        map.insert("kind".into(), json!(kind));
    }
}

/// A stable, opaque 8-byte hash (base64) like the real `storageVersionHash`.
fn storage_version_hash(rt: &ResourceType) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rt.storage.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = h.to_be_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// The resource served at `/api[s]/{group}/{version}/.../{plural}`.
pub fn by_path(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource whose objects have this `apiVersion` and `kind`.
pub fn by_kind(api_version_: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.api_version() == api_version_ && r.kind == kind)
}

/// The resource type that objects stored under `storage` are written through
/// (the one whose served form is the stored form).
pub fn by_storage(storage: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.storage == storage && r.view == View::Native)
}

pub fn is_group_version(group: &str, version: &str) -> bool {
    GROUP_VERSIONS.contains(&(group, version))
}

// ---- discovery documents -------------------------------------------------

pub fn version_doc() -> Value {
    json!({
        "major": "1",
        "minor": "35",
        "emulationMajor": "1",
        "emulationMinor": "35",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "34",
        "gitVersion": "v1.35.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-12-17T00:00:00Z",
        "goVersion": "go1.25.5",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`: APIVersions.
pub fn core_versions_doc(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ]
    })
}

fn group_doc(group: &str) -> Value {
    let versions: Vec<Value> = GROUP_VERSIONS
        .iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| json!({"groupVersion": api_version(g, v), "version": v}))
        .collect();
    let preferred = preferred_version(group);
    json!({
        "name": group,
        "versions": versions,
        "preferredVersion": {"groupVersion": api_version(group, preferred), "version": preferred},
    })
}

/// `/apis`: APIGroupList.
pub fn group_list_doc() -> Value {
    let mut groups: Vec<&str> = Vec::new();
    for (g, _) in GROUP_VERSIONS {
        if !g.is_empty() && !groups.contains(g) {
            groups.push(g);
        }
    }
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": groups.iter().map(|g| group_doc(g)).collect::<Vec<_>>(),
    })
}

/// `/apis/{group}`: APIGroup.
pub fn api_group_doc(group: &str) -> Option<Value> {
    if group.is_empty() || !GROUP_VERSIONS.iter().any(|(g, _)| *g == group) {
        return None;
    }
    let mut doc = group_doc(group);
    let map: &mut Map<String, Value> = doc.as_object_mut()?;
    map.insert("kind".into(), json!("APIGroup"));
    map.insert("apiVersion".into(), json!("v1"));
    Some(doc)
}

/// `/api/v1`, `/apis/{group}/{version}`: APIResourceList.
pub fn resource_list_doc(group: &str, version: &str) -> Option<Value> {
    if !is_group_version(group, version) {
        return None;
    }
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .flat_map(|r| r.discovery_entries())
        .collect();
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version(group, version),
        "resources": resources,
    }))
}
