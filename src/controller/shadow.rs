//! Shadow mode: what the HorizontalPodAutoscaler that also scales a target
//! decided at the moment of a tick, carried on that tick's decision record,
//! so a `run --dry-run` beside a live HPA records both sides and
//! `scalepilot report` can compare them.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde::{Deserialize, Serialize};

/// One HPA condition as its status shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What an HPA decided, as its status says (read from the watch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaView {
    pub name: String,
    /// `status.desiredReplicas`: the count the HPA last computed.
    pub desired_replicas: i32,
    /// `status.currentReplicas`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_replicas: Option<i32>,
    /// `status.lastScaleTime` (RFC 3339), when it has scaled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<HpaCondition>,
}

impl HpaView {
    pub fn of(h: &HorizontalPodAutoscaler) -> HpaView {
        let status = h.status.as_ref();
        HpaView {
            name: h.metadata.name.clone().unwrap_or_default(),
            desired_replicas: status.map_or(0, |s| s.desired_replicas),
            current_replicas: status.and_then(|s| s.current_replicas),
            last_scale_time: status
                .and_then(|s| s.last_scale_time.as_ref())
                .map(|t| t.0.to_string()),
            conditions: status
                .and_then(|s| s.conditions.as_ref())
                .map(|cs| {
                    cs.iter()
                        .map(|c| HpaCondition {
                            type_: c.type_.clone(),
                            status: c.status.clone(),
                            reason: c.reason.clone(),
                            message: c.message.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_the_hpa_controller_writes() {
        let h: HorizontalPodAutoscaler = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 10},
            "status": {
                "currentReplicas": 3, "desiredReplicas": 5,
                "lastScaleTime": "2026-12-05T02:00:00Z",
                "conditions": [{"type": "AbleToScale", "status": "True", "reason": "SucceededRescale",
                                "message": "the HPA controller was able to update the target scale to 5"}]
            }
        }))
        .unwrap();
        let v = HpaView::of(&h);
        assert_eq!((v.desired_replicas, v.current_replicas), (5, Some(3)));
        assert_eq!(v.last_scale_time.as_deref(), Some("2026-12-05T02:00:00Z"));
        assert_eq!(v.conditions[0].reason.as_deref(), Some("SucceededRescale"));
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["conditions"][0]["type"], "AbleToScale");
        assert_eq!(serde_json::from_value::<HpaView>(json).unwrap(), v);
    }
}
