//! The defaults the API server and kube-controller-manager fill in, applied in
//! one place: the CPU-80 % metric when `metrics` is empty, and the behavior
//! rules of `pkg/apis/autoscaling/v2/defaults.go` for a direction left out.

use std::borrow::Cow;

use super::schema::{
    Behavior, MetricSourceType, MetricSpec, MetricTarget, MetricTargetType, PolicySpec,
    ResourceMetricSource, ScalingPolicyRule, ScalingPolicyType, ScalingRules, SelectPolicy,
};

/// The HPA's default target when a spec lists no metric.
pub const DEFAULT_CPU_UTILIZATION: i32 = 80;
/// `minReplicas` when left out.
pub const DEFAULT_MIN_REPLICAS: i32 = 1;

/// The HPA's default scale-up policies: 4 pods or 100 % per 15 s.
const DEFAULT_SCALE_UP: [ScalingPolicyRule; 2] = [
    rule(ScalingPolicyType::Pods, 4, 15),
    rule(ScalingPolicyType::Percent, 100, 15),
];
/// The HPA's default scale-down policy: 100 % per 15 s.
const DEFAULT_SCALE_DOWN: [ScalingPolicyRule; 1] = [rule(ScalingPolicyType::Percent, 100, 15)];

/// One direction of a behavior with every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedRules<'a> {
    /// `None` for a scale-down left without a window: the controller's
    /// `--horizontal-pod-autoscaler-downscale-stabilization` then applies.
    pub stabilization_window_s: Option<i32>,
    pub select_policy: SelectPolicy,
    pub policies: &'a [ScalingPolicyRule],
    /// `None`: the controller's global tolerance applies.
    pub tolerance: Option<f64>,
}

/// Both directions of a behavior with every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedBehavior<'a> {
    pub scale_up: ResolvedRules<'a>,
    pub scale_down: ResolvedRules<'a>,
}

impl MetricSpec {
    /// A Resource metric on CPU at `percent` of the pods' requests: the HPA's
    /// default metric, and autoscaling/v1's only one.
    pub fn cpu_utilization(percent: i32) -> MetricSpec {
        MetricSpec {
            source_type: MetricSourceType::Resource,
            resource: Some(ResourceMetricSource {
                name: "cpu".to_string(),
                target: MetricTarget {
                    target_type: Some(MetricTargetType::Utilization),
                    value: None,
                    average_value: None,
                    average_utilization: Some(percent),
                },
            }),
            container_resource: None,
            pods: None,
            object: None,
            external: None,
            stream: None,
            kafka_lag: None,
        }
    }
}

impl PolicySpec {
    /// `minReplicas`, defaulted to 1.
    pub fn min_replicas(&self) -> i32 {
        self.min_replicas.unwrap_or(DEFAULT_MIN_REPLICAS)
    }

    /// The metrics the HPA would use: the spec's, or CPU utilization 80 % when empty.
    pub fn effective_metrics(&self) -> Cow<'_, [MetricSpec]> {
        if !self.metrics.is_empty() {
            return Cow::Borrowed(&self.metrics);
        }
        Cow::Owned(vec![MetricSpec::cpu_utilization(DEFAULT_CPU_UTILIZATION)])
    }

    /// The behavior with defaults, or `None` for the legacy rules.
    pub fn resolved_behavior(&self) -> Option<ResolvedBehavior<'_>> {
        self.behavior.as_ref().map(Behavior::resolve)
    }
}

impl Behavior {
    /// Fills every left-out field as `SetDefaults_HorizontalPodAutoscalerBehavior` does.
    pub fn resolve(&self) -> ResolvedBehavior<'_> {
        ResolvedBehavior {
            scale_up: resolve_rules(self.scale_up.as_ref(), Some(0), &DEFAULT_SCALE_UP),
            scale_down: resolve_rules(self.scale_down.as_ref(), None, &DEFAULT_SCALE_DOWN),
        }
    }
}

const fn rule(
    policy_type: ScalingPolicyType,
    value: i32,
    period_seconds: i32,
) -> ScalingPolicyRule {
    ScalingPolicyRule {
        policy_type,
        value,
        period_seconds,
    }
}

fn resolve_rules<'a>(
    given: Option<&'a ScalingRules>,
    default_window_s: Option<i32>,
    default_policies: &'static [ScalingPolicyRule],
) -> ResolvedRules<'a> {
    ResolvedRules {
        stabilization_window_s: given
            .and_then(|g| g.stabilization_window_seconds)
            .or(default_window_s),
        select_policy: given
            .and_then(|g| g.select_policy)
            .unwrap_or(SelectPolicy::Max),
        policies: given
            .and_then(|g| g.policies.as_deref())
            .unwrap_or(default_policies),
        tolerance: given.and_then(|g| g.tolerance.as_ref()).map(|q| q.as_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_behavior_gets_the_documented_defaults() {
        let empty = Behavior::default();
        let b = empty.resolve();
        assert_eq!(b.scale_up.stabilization_window_s, Some(0));
        assert_eq!(b.scale_up.select_policy, SelectPolicy::Max);
        assert_eq!(
            b.scale_up.policies,
            [
                rule(ScalingPolicyType::Pods, 4, 15),
                rule(ScalingPolicyType::Percent, 100, 15)
            ]
        );
        assert_eq!(b.scale_down.stabilization_window_s, None);
        assert_eq!(
            b.scale_down.policies,
            [rule(ScalingPolicyType::Percent, 100, 15)]
        );
        assert_eq!(b.scale_down.tolerance, None);
    }

    #[test]
    fn given_fields_override_only_themselves() {
        let given = Behavior {
            scale_up: Some(ScalingRules {
                select_policy: Some(SelectPolicy::Min),
                ..Default::default()
            }),
            scale_down: Some(ScalingRules {
                stabilization_window_seconds: Some(60),
                policies: Some(vec![rule(ScalingPolicyType::Pods, 1, 60)]),
                tolerance: Some(crate::quantity::Quantity::parse("0.05").unwrap()),
                ..Default::default()
            }),
        };
        let b = given.resolve();
        assert_eq!(b.scale_up.select_policy, SelectPolicy::Min);
        assert_eq!(b.scale_up.policies.len(), 2);
        assert_eq!(b.scale_down.stabilization_window_s, Some(60));
        assert_eq!(
            b.scale_down.policies,
            [rule(ScalingPolicyType::Pods, 1, 60)]
        );
        assert_eq!(b.scale_down.tolerance, Some(0.05));
    }
}
