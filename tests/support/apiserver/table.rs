//! Server-side printing: `meta.k8s.io/v1` Table responses (what `kubectl get`
//! asks for with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`) with
//! the columns the real server prints for each kind, and the
//! PartialObjectMetadata forms of objects and lists.

use serde_json::{json, Value};

use super::resources::ResourceType;

/// What each row carries in `object` (the `includeObject` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn parse(s: Option<&str>) -> Include {
        match s {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// How a GET, list or watch renders objects (negotiated from `Accept`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Object,
    Metadata,
    Table(Include),
}

pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
    })
}

pub fn partial_metadata_list(items: &[Value], rv: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "items": items.iter().map(partial_metadata).collect::<Vec<_>>(),
    })
}

struct Column {
    name: &'static str,
    ty: &'static str,
    format: &'static str,
    priority: u8,
    description: &'static str,
}

const fn col(name: &'static str, ty: &'static str, priority: u8) -> Column {
    Column {
        name,
        ty,
        format: "",
        priority,
        description: "",
    }
}

const NAME: Column = Column {
    name: "Name",
    ty: "string",
    format: "name",
    priority: 0,
    description: "Name must be unique within a namespace.",
};

fn columns(rt: &ResourceType) -> Vec<Column> {
    match rt.storage {
        "deployments.apps" => vec![
            NAME,
            col("Ready", "string", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            col("Age", "string", 0),
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        "pods" => vec![
            NAME,
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            col("Age", "string", 0),
            col("IP", "string", 1),
            col("Node", "string", 1),
            col("Nominated Node", "string", 1),
            col("Readiness Gates", "string", 1),
        ],
        "leases.coordination.k8s.io" => {
            vec![NAME, col("Holder", "string", 0), col("Age", "string", 0)]
        }
        "namespaces" => vec![NAME, col("Status", "string", 0), col("Age", "string", 0)],
        "events" => vec![
            col("Last Seen", "string", 0),
            col("Type", "string", 0),
            col("Reason", "string", 0),
            col("Object", "string", 0),
            col("Subobject", "string", 1),
            col("Source", "string", 1),
            col("Message", "string", 0),
            col("First Seen", "string", 1),
            col("Count", "string", 1),
            Column {
                priority: 1,
                ..NAME
            },
        ],
        "horizontalpodautoscalers.autoscaling" => vec![
            NAME,
            col("Reference", "string", 0),
            col("Targets", "string", 0),
            col("MinPods", "string", 0),
            col("MaxPods", "integer", 0),
            col("Replicas", "integer", 0),
            col("Age", "string", 0),
        ],
        _ => default_columns(),
    }
}

fn default_columns() -> Vec<Column> {
    vec![
        NAME,
        Column {
            name: "Created At",
            ty: "date",
            format: "",
            priority: 0,
            description: "CreationTimestamp is a timestamp representing the server time when this object was created.",
        },
    ]
}

fn s<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn n(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// `kubectl`'s HumanDuration, as the server prints ages.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    format!("{}y", hours / 24 / 365)
}

fn age(timestamp: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(timestamp) {
        Ok(t) => human_duration((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds()),
        Err(_) => "<unknown>".into(),
    }
}

fn join_containers(obj: &Value, ptr: &str, field: &str) -> String {
    obj.pointer(ptr)
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| c.get(field).and_then(Value::as_str).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn cells(rt: &ResourceType, o: &Value) -> Vec<Value> {
    let name = s(o, "/metadata/name");
    let created = age(s(o, "/metadata/creationTimestamp"));
    match rt.storage {
        "deployments.apps" => {
            let selector = o
                .pointer("/spec/selector")
                .map(super::selector::render_label_selector)
                .unwrap_or_default();
            vec![
                json!(name),
                json!(format!(
                    "{}/{}",
                    n(o, "/status/readyReplicas"),
                    n(o, "/spec/replicas")
                )),
                json!(n(o, "/status/updatedReplicas")),
                json!(n(o, "/status/availableReplicas")),
                json!(created),
                json!(join_containers(o, "/spec/template/spec/containers", "name")),
                json!(join_containers(
                    o,
                    "/spec/template/spec/containers",
                    "image"
                )),
                json!(selector),
            ]
        }
        "pods" => {
            let statuses = o
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total = o
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses
                .iter()
                .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                .count();
            let restarts: i64 = statuses
                .iter()
                .map(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0))
                .sum();
            let phase = if o.pointer("/metadata/deletionTimestamp").is_some() {
                "Terminating"
            } else {
                s(o, "/status/phase")
            };
            let or_none = |v: &str| {
                if v.is_empty() {
                    "<none>".to_string()
                } else {
                    v.to_string()
                }
            };
            vec![
                json!(name),
                json!(format!("{ready}/{total}")),
                json!(phase),
                json!(restarts.to_string()),
                json!(created),
                json!(or_none(s(o, "/status/podIP"))),
                json!(or_none(s(o, "/spec/nodeName"))),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        "leases.coordination.k8s.io" => {
            vec![
                json!(name),
                json!(s(o, "/spec/holderIdentity")),
                json!(created),
            ]
        }
        "namespaces" => vec![json!(name), json!(s(o, "/status/phase")), json!(created)],
        "events" => {
            // Both event APIs print alike; read either version's field names.
            let first = |ptrs: &[&str]| {
                ptrs.iter()
                    .map(|p| s(o, p))
                    .find(|v| !v.is_empty())
                    .unwrap_or("")
                    .to_string()
            };
            let last_seen = first(&[
                "/series/lastObservedTime",
                "/lastTimestamp",
                "/deprecatedLastTimestamp",
                "/eventTime",
                "/metadata/creationTimestamp",
            ]);
            let first_seen = first(&[
                "/firstTimestamp",
                "/deprecatedFirstTimestamp",
                "/eventTime",
                "/metadata/creationTimestamp",
            ]);
            let regarding = o
                .get("involvedObject")
                .or_else(|| o.get("regarding"))
                .cloned()
                .unwrap_or(json!({}));
            let object = format!(
                "{}/{}",
                s(&regarding, "/kind").to_lowercase(),
                s(&regarding, "/name")
            );
            let count = o
                .pointer("/series/count")
                .or_else(|| o.get("count"))
                .or_else(|| o.get("deprecatedCount"))
                .and_then(Value::as_i64)
                .unwrap_or(1);
            vec![
                json!(age(&last_seen)),
                json!(s(o, "/type")),
                json!(s(o, "/reason")),
                json!(object),
                json!(s(&regarding, "/fieldPath")),
                json!(first(&[
                    "/reportingComponent",
                    "/reportingController",
                    "/source/component"
                ])),
                json!(first(&["/message", "/note"])),
                json!(age(&first_seen)),
                json!(count.to_string()),
                json!(name),
            ]
        }
        "horizontalpodautoscalers.autoscaling" => {
            let reference = format!(
                "{}/{}",
                s(o, "/spec/scaleTargetRef/kind"),
                s(o, "/spec/scaleTargetRef/name")
            );
            vec![
                json!(name),
                json!(reference),
                json!(hpa_targets(o)),
                json!(n(o, "/spec/minReplicas").to_string()),
                json!(n(o, "/spec/maxReplicas")),
                json!(n(o, "/status/currentReplicas")),
                json!(created),
            ]
        }
        _ => vec![json!(name), json!(s(o, "/metadata/creationTimestamp"))],
    }
}

/// The TARGETS column: `cpu: 40%/80%` per resource metric.
fn hpa_targets(o: &Value) -> String {
    let specs = o
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let current = o
        .pointer("/status/currentMetrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let parts: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let res = m.get("resource").cloned().unwrap_or(json!({}));
            let target = match res
                .pointer("/target/averageUtilization")
                .and_then(Value::as_i64)
            {
                Some(u) => format!("{u}%"),
                None => s(&res, "/target/averageValue").to_string(),
            };
            let cur = current
                .get(i)
                .and_then(|c| c.pointer("/resource/current/averageUtilization"))
                .and_then(Value::as_i64)
                .map_or("<unknown>".to_string(), |u| format!("{u}%"));
            let name = s(&res, "/name");
            if name.is_empty() {
                format!("{cur}/{target}")
            } else {
                format!("{name}: {cur}/{target}")
            }
        })
        .collect();
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(", ")
    }
}

/// A Table of objects (served form) of resource `rt`; `rt` None prints the
/// default Name / Created At columns (subresources like Scale).
pub fn table(rt: Option<&ResourceType>, objects: &[Value], rv: &str, include: Include) -> Value {
    let cols = rt.map_or_else(default_columns, columns);
    let definitions: Vec<Value> = cols
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.ty,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells = match rt {
                Some(rt) => cells(rt, o),
                None => vec![
                    json!(s(o, "/metadata/name")),
                    json!(s(o, "/metadata/creationTimestamp")),
                ],
            };
            let mut row = json!({"cells": cells});
            match include {
                Include::None => {}
                Include::Metadata => row["object"] = partial_metadata(o),
                Include::Object => row["object"] = o.clone(),
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": definitions,
        "rows": rows,
    })
}
