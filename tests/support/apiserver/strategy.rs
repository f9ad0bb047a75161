//! What the real registry strategies do per kind: status reset on create,
//! API defaulting, the validation rules tests can trip over, and the
//! autoscaling/v1 Scale view of a Deployment.

use serde_json::{json, Value};

use super::errors::ApiError;
use super::resources::ResourceType;
use super::selector::render_label_selector;
use super::store::{meta_mut, meta_str};

fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

pub fn validate_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
    if is_dns_subdomain(name) {
        return Ok(());
    }
    Err(ApiError::invalid(
        rt,
        name,
        "metadata.name",
        &format!(
            "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case \
             alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
             character (e.g. 'example.com', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ),
    ))
}

/// A PUT body's name and namespace must be those of the URL.
pub fn check_identity(obj: &Value, ns: &str, name: &str) -> Result<(), ApiError> {
    let body_name = meta_str(obj, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let body_ns = meta_str(obj, "namespace");
    if !body_ns.is_empty() && body_ns != ns {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

/// What the real strategies' PrepareForCreate do to status.
pub fn prepare_create_status(rt: &ResourceType, obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    match rt.storage {
        "deployments.apps"
        | "statefulsets.apps"
        | "rollouts.argoproj.io"
        | "horizontalpodautoscalers.autoscaling" => {
            map.remove("status");
        }
        "pods" => {
            map.insert("status".into(), json!({"phase": "Pending"}));
        }
        "namespaces" => {
            map.insert("spec".into(), json!({"finalizers": ["kubernetes"]}));
            map.insert("status".into(), json!({"phase": "Active"}));
            let name = meta_str(obj, "name").to_string();
            let meta = meta_mut(obj);
            let labels = meta.entry("labels").or_insert_with(|| json!({}));
            labels["kubernetes.io/metadata.name"] = json!(name);
        }
        _ => {}
    }
}

fn default_field(obj: &mut Value, field: &str, value: Value) {
    if let Some(map) = obj.as_object_mut() {
        map.entry(field).or_insert(value);
    }
}

/// The API defaulting the real server applies on decode (the parts that
/// matter to an autoscaler: Deployment and HPA spec).
pub fn apply_defaults(rt: &ResourceType, obj: &mut Value) {
    match rt.storage {
        "statefulsets.apps" | "rollouts.argoproj.io" => {
            if !obj.get("spec").is_some_and(Value::is_object) {
                obj["spec"] = json!({});
            }
            default_field(&mut obj["spec"], "replicas", json!(1));
        }
        "deployments.apps" => {
            if !obj.get("spec").is_some_and(Value::is_object) {
                obj["spec"] = json!({});
            }
            let spec = &mut obj["spec"];
            default_field(spec, "replicas", json!(1));
            default_field(spec, "revisionHistoryLimit", json!(10));
            default_field(spec, "progressDeadlineSeconds", json!(600));
            default_field(spec, "strategy", json!({"type": "RollingUpdate"}));
            if spec["strategy"].get("type").is_none() {
                spec["strategy"]["type"] = json!("RollingUpdate");
            }
            if spec["strategy"]["type"] == "RollingUpdate" {
                default_field(&mut spec["strategy"], "rollingUpdate", json!({}));
                let ru = &mut spec["strategy"]["rollingUpdate"];
                default_field(ru, "maxUnavailable", json!("25%"));
                default_field(ru, "maxSurge", json!("25%"));
            }
        }
        "horizontalpodautoscalers.autoscaling" => {
            if !obj.get("spec").is_some_and(Value::is_object) {
                obj["spec"] = json!({});
            }
            let spec = &mut obj["spec"];
            default_field(spec, "minReplicas", json!(1));
            if spec
                .get("metrics")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            {
                spec["metrics"] = json!([{
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}
                }]);
            }
            if spec.get("behavior").is_some_and(Value::is_object) {
                let b = &mut spec["behavior"];
                default_field(b, "scaleUp", json!({}));
                default_field(b, "scaleDown", json!({}));
                let up = &mut b["scaleUp"];
                default_field(up, "stabilizationWindowSeconds", json!(0));
                default_field(up, "selectPolicy", json!("Max"));
                default_field(
                    up,
                    "policies",
                    json!([
                        {"type": "Pods", "value": 4, "periodSeconds": 15},
                        {"type": "Percent", "value": 100, "periodSeconds": 15}
                    ]),
                );
                let down = &mut b["scaleDown"];
                default_field(down, "selectPolicy", json!("Max"));
                default_field(
                    down,
                    "policies",
                    json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
                );
            }
        }
        _ => {}
    }
}

/// The validation rules the tests can trip over.
pub fn validate(rt: &ResourceType, name: &str, obj: &Value) -> Result<(), ApiError> {
    if rt.has_subresource("scale") {
        if let Some(r) = obj.pointer("/spec/replicas").and_then(Value::as_i64) {
            if r < 0 {
                return Err(ApiError::invalid(
                    rt,
                    name,
                    "spec.replicas",
                    &format!("Invalid value: {r}: must be greater than or equal to 0"),
                ));
            }
        }
    }
    if rt.storage == "horizontalpodautoscalers.autoscaling" {
        let min = obj
            .pointer("/spec/minReplicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let max = obj
            .pointer("/spec/maxReplicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if max < min {
            return Err(ApiError::invalid(
                rt,
                name,
                "spec.maxReplicas",
                &format!("Invalid value: {max}: must be greater than or equal to `minReplicas`"),
            ));
        }
    }
    Ok(())
}

/// The autoscaling/v1 Scale of a stored object: built-in workloads render
/// their `spec.selector`; a custom resource reports the string at its CRD's
/// `labelSelectorPath` (`.status.selector` here, as Argo Rollouts do).
pub fn scale_of(rt: &ResourceType, dep: &Value) -> Value {
    let mut metadata = json!({});
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = dep.pointer(&format!("/metadata/{field}")) {
            metadata[field] = v.clone();
        }
    }
    let replicas = dep
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let spec = if replicas != 0 {
        json!({"replicas": replicas})
    } else {
        json!({})
    };
    let selector = if rt.group.contains('.') {
        dep.pointer("/status/selector")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    } else {
        dep.pointer("/spec/selector")
            .map(render_label_selector)
            .unwrap_or_default()
    };
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": spec,
        "status": {
            "replicas": dep.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}
