//! The `ScalingPolicy` document as users write it: serde types with the field
//! names of autoscaling/v2 (`metrics` is `[]MetricSpec`, `behavior` is
//! `HorizontalPodAutoscalerBehavior`), strict (`deny_unknown_fields`).
//!
//! Our own extensions (stream windows, forecasts, panic mode) are added as new
//! optional fields of [`PolicySpec`]; the HPA-shaped fields never change meaning.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::quantity::Quantity;

/// An enum of Kubernetes names that keeps an unknown name as `Other` instead of
/// failing to parse, so that validation can say what is wrong with it.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            Other(String),
        }

        impl $name {
            /// The allowed names, for error messages.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($variant)),*];

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => stringify!($variant),)*
                    $name::Other(s) => s,
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $(stringify!($variant) => $name::$variant,)*
                    _ => $name::Other(s),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map($name::from)
            }
        }
    };
}

/// The API version every policy document carries.
pub const API_VERSION: &str = "scalepilot.io/v1alpha1";
/// The kind every policy document carries.
pub const KIND: &str = "ScalingPolicy";

/// One policy document: one scaled target.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalingPolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: PolicySpec,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMeta {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The scaling rules for one target; an HPA's `spec` pastes in unchanged
/// (`scaleTargetRef` is accepted as another name for `target`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    #[serde(
        default,
        alias = "scaleTargetRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<TargetRef>,
    /// Defaults to 1, as the HPA's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    pub max_replicas: i32,
    /// Empty means the HPA default: CPU utilization 80 %.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricSpec>,
    /// Absent means the legacy HPA rules (5-minute downscale stabilization,
    /// scale-up limit max(2×current, 4)); present, even empty, means behaviors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<Behavior>,
    /// How often to decide, in seconds (scalepilot extension; default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick_seconds: Option<i32>,
    /// Scale ahead of predictable load with a trained model (scalepilot extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastSpec>,
    /// Scale to zero and back, as KEDA does (needs `minReplicas: 0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<ActivationSpec>,
    /// Knative-style burst mode: a short window beside the stable one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<BurstSpec>,
}

/// Burst mode, as Knative's panic mode: the policy's stream metrics are also
/// read over a short `window`; when the replicas they ask for reach
/// `threshold` times the ready replicas, the target scales up to that at once
/// (past the scale-up rate limits) and makes no scale-down until no burst
/// has been seen for `stableWindow`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BurstSpec {
    /// Default `6s` (Knative: 10 % of the 60 s stable window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Default 2.0 (Knative's panic threshold, 200 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_window: Option<String>,
}

impl BurstSpec {
    /// (short window, stable window) in milliseconds.
    pub fn windows_ms(&self) -> Result<(i64, i64), crate::duration::DurationError> {
        let short = crate::duration::parse_ms(self.window.as_deref().unwrap_or("6s"))?;
        let stable = crate::duration::parse_ms(self.stable_window.as_deref().unwrap_or("60s"))?;
        Ok((short, stable))
    }

    pub fn threshold(&self) -> f64 {
        self.threshold.unwrap_or(2.0)
    }
}

impl PolicySpec {
    /// The stream metrics read over the burst window instead of their own
    /// (tumbling): what burst mode sizes with. Empty without `burst`.
    pub fn burst_metrics(&self) -> Vec<MetricSpec> {
        let Some(window) = self
            .burst
            .as_ref()
            .map(|b| b.window.clone().unwrap_or_else(|| "6s".into()))
        else {
            return Vec::new();
        };
        self.metrics
            .iter()
            .filter(|m| m.stream.is_some())
            .map(|m| {
                let mut m = m.clone();
                if let Some(st) = m.stream.as_mut() {
                    st.window = window.clone();
                    st.slide = None;
                }
                m
            })
            .collect()
    }
}

/// KEDA's scale to zero: with `minReplicas: 0`, the target is active while
/// any Object or External metric's value is above `threshold` (KEDA's
/// `activationThreshold`); from zero it goes to at least one replica as soon
/// as it is active, and back to zero once it has been inactive for
/// `cooldownSeconds` (KEDA's `cooldownPeriod`). While active and scaled, the
/// chain sizes it as usual with at least one replica.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivationSpec {
    /// Default 0: any load activates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Quantity>,
    /// Default 300, as KEDA's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_seconds: Option<i32>,
}

/// KEDA's default `cooldownPeriod`.
pub const DEFAULT_ACTIVATION_COOLDOWN_S: i32 = 300;

impl ActivationSpec {
    pub fn threshold_milli(&self) -> i64 {
        self.threshold.as_ref().map_or(0, Quantity::milli)
    }

    pub fn cooldown_s(&self) -> i32 {
        self.cooldown_seconds
            .unwrap_or(DEFAULT_ACTIVATION_COOLDOWN_S)
    }
}

/// A policy's forecast: which model, how far ahead, how it combines with the
/// reactive proposal, and when to stop trusting it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForecastSpec {
    /// The model file (`scalepilot train --out`), relative to the policy file.
    pub model: String,
    /// How far ahead, e.g. `300s`; must equal the model's horizon. Default: the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon: Option<String>,
    #[serde(default)]
    pub mode: ForecastMode,
    /// Fall back to reactive while the forecast's MAPE over `gateWindow`
    /// exceeds this many percent (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_mape_percent: Option<f64>,
    /// The window of the accuracy gate, e.g. `1h` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_window: Option<String>,
    /// While the forecast is trusted (the gate is open), every metric target
    /// is raised by this many percent (averageUtilization 80 → 88 at 10): the
    /// forecast's margin carries the headroom the target kept for load rising
    /// faster than pods start. Default 0; the policy's own targets return as
    /// soon as the gate closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relax_targets_percent: Option<f64>,
    /// `fixed` (default): while trusted, targets are raised by
    /// `relaxTargetsPercent`. `earned`: by as much as the forecast's upper
    /// bound has exceeded the peak that then arrived, in nine of ten of the
    /// gate window's forecasts, and at most `relaxTargetsPercent` (default
    /// 50): the target's headroom then stays whole against the peaks that
    /// came, and a forecast that never overshoots earns nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relax_targets: Option<RelaxTargets>,
}

/// The most targets may be raised: `relaxTargetsPercent`'s upper bound, and
/// the ceiling of an earned relaxation when none is given.
pub const MAX_RELAX_TARGETS_PERCENT: f64 = 50.0;

/// How far targets are raised while the forecast is trusted.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RelaxTargets {
    /// By `relaxTargetsPercent`.
    #[default]
    Fixed,
    /// By what the forecast's record earns, up to `relaxTargetsPercent`.
    Earned,
}

/// How the forecast combines with the reactive proposal.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ForecastMode {
    /// The larger of the reactive proposal and what the forecast needs:
    /// scale up ahead of load, scale down only when both agree.
    #[default]
    Max,
    /// The forecast's proposal alone (the behavior chain still applies).
    Predictive,
    /// As `max` on the way up; on the way down, while the accuracy gate
    /// trusts the forecast and its horizon covers the scale-down window, the
    /// window is not held: the forecast's upper bound already keeps the
    /// capacity the next window's peak needs (the rate limits still apply).
    Both,
    /// Ignore the forecast.
    Off,
}

/// `CrossVersionObjectReference`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetRef {
    #[serde(default)]
    pub api_version: Option<String>,
    pub kind: String,
    pub name: String,
}

open_enum! {
    /// `MetricSourceType`. Unknown names are kept so that `validate` can report
    /// them and `decide` can fail that one metric as the HPA does.
    MetricSourceType {
        Resource,
        ContainerResource,
        Pods,
        Object,
        External,
    }
}

/// `MetricSpec`: exactly one source, matching `type`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSpec {
    #[serde(rename = "type")]
    pub source_type: MetricSourceType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceMetricSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_resource: Option<ContainerResourceMetricSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<PodsMetricSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectMetricSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalMetricSource>,
    /// scalepilot extension: compute this metric from the metric stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSpec>,
    /// scalepilot extension: this External metric is the lag of a Kafka
    /// consumer group on a topic (KEDA's Kafka scaler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_lag: Option<KafkaLagSpec>,
}

/// The lag of consumer group `group` on `topic`: the sum over partitions of
/// the high watermark minus the group's committed offset.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KafkaLagSpec {
    pub group: String,
    pub topic: String,
    /// A partition the group never committed counts as `latest` (lag 1: the
    /// group will start at the end) or `earliest` (every retained message).
    #[serde(default)]
    pub offset_reset_policy: OffsetResetPolicy,
    /// Let the lag ask for more replicas than the topic has partitions.
    #[serde(default)]
    pub allow_idle_consumers: bool,
    /// A partition whose committed offset has not moved since the last read
    /// (a stuck consumer or a poison message) adds no lag.
    #[serde(default)]
    pub exclude_persistent_lag: bool,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OffsetResetPolicy {
    #[default]
    Latest,
    Earliest,
}

/// Where a metric comes from in the stream: a window over the samples named
/// like the metric, and the aggregate to read from it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamSpec {
    /// Window length, e.g. `60s`.
    pub window: String,
    /// A new window every `slide` (sliding); tumbling when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slide: Option<String>,
    pub aggregate: StreamAggregate,
    /// The label whose distinct values `distinct` counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// The aggregate a stream metric reads from its window.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StreamAggregate {
    Count,
    Sum,
    /// Sum per second of window.
    Rate,
    Mean,
    Min,
    Max,
    P50,
    P90,
    P95,
    P99,
    Distinct,
    /// Exponentially weighted mean by event time (half-life: an eighth of the window).
    Ewma,
}

impl StreamSpec {
    /// (window, slide) in milliseconds.
    pub fn window_ms(&self) -> Result<(i64, i64), crate::duration::WindowError> {
        let size = crate::duration::parse_ms(&self.window)?;
        let slide = match &self.slide {
            Some(s) => crate::duration::parse_ms(s)?,
            None => size,
        };
        if slide > 0 && slide <= size {
            // Never hand the engine a spec that opens too many windows per sample.
            crate::duration::windows_per_sample(size, slide)?;
        }
        Ok((size, slide))
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceMetricSource {
    pub name: String,
    pub target: MetricTarget,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerResourceMetricSource {
    pub name: String,
    pub container: String,
    pub target: MetricTarget,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodsMetricSource {
    pub metric: MetricIdentifier,
    pub target: MetricTarget,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMetricSource {
    pub described_object: TargetRef,
    pub metric: MetricIdentifier,
    pub target: MetricTarget,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalMetricSource {
    pub metric: MetricIdentifier,
    pub target: MetricTarget,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricIdentifier {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

open_enum! {
    /// `MetricTargetType`; unknown names are kept for `validate` to report.
    MetricTargetType {
        Utilization,
        Value,
        AverageValue,
    }
}

/// `MetricTarget`: the type and the one value field it uses.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricTarget {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<MetricTargetType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_value: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_utilization: Option<i32>,
}

impl MetricTarget {
    /// This target raised by `factor` (utilization rounded to a whole percent,
    /// values to a thousandth).
    pub fn scaled(&self, factor: f64) -> MetricTarget {
        let q = |v: &Quantity| Quantity::from_milli((v.milli() as f64 * factor).round() as i64);
        MetricTarget {
            target_type: self.target_type.clone(),
            value: self.value.as_ref().map(q),
            average_value: self.average_value.as_ref().map(q),
            average_utilization: self
                .average_utilization
                .map(|u| (f64::from(u) * factor).round() as i32),
        }
    }
}

impl MetricSpec {
    /// This metric with its target raised by `factor`.
    pub fn with_target_scaled(&self, factor: f64) -> MetricSpec {
        let mut m = self.clone();
        if let Some(s) = m.resource.as_mut() {
            s.target = s.target.scaled(factor);
        }
        if let Some(s) = m.container_resource.as_mut() {
            s.target = s.target.scaled(factor);
        }
        if let Some(s) = m.pods.as_mut() {
            s.target = s.target.scaled(factor);
        }
        if let Some(s) = m.object.as_mut() {
            s.target = s.target.scaled(factor);
        }
        if let Some(s) = m.external.as_mut() {
            s.target = s.target.scaled(factor);
        }
        m
    }
}

/// `HorizontalPodAutoscalerBehavior`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Behavior {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<ScalingRules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScalingRules>,
}

/// `HPAScalingRules`, with the per-direction `tolerance` of Kubernetes 1.33.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalingRules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<SelectPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<ScalingPolicyRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Quantity>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum SelectPolicy {
    Max,
    Min,
    Disabled,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum ScalingPolicyType {
    Pods,
    Percent,
}

/// `HPAScalingPolicy`: at most `value` pods (or percent) per `periodSeconds`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalingPolicyRule {
    #[serde(rename = "type")]
    pub policy_type: ScalingPolicyType,
    pub value: i32,
    pub period_seconds: i32,
}
