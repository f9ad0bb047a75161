//! What of the watched objects the stores keep, and Kubernetes timestamps as
//! `decide` times. Targets keep their metadata (the controller reads their
//! replicas and selector from `/scale`); Pods are read into a compact form of
//! their own (`watched_pod`).

use k8s_openapi::jiff::Timestamp;

use crate::decide::{zero_time, Time};

/// A Kubernetes timestamp as a `decide` time.
pub fn time(t: &Timestamp) -> Time {
    Time::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32)
        .unwrap_or_else(zero_time)
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
