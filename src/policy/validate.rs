//! Semantic checks of a policy, reporting every problem with its field path:
//! the rules the Kubernetes API server applies to an HPA spec (same paths and
//! messages), plus a few stricter ones of our own, marked as such, that catch
//! specs the HPA would accept but silently misread.

use super::schema::{
    MetricSourceType, MetricSpec, MetricTarget, MetricTargetType, PolicySpec, ScalingRules,
    StreamAggregate, StreamSpec, TargetRef, MAX_RELAX_TARGETS_PERCENT,
};

/// One problem: where (a field path) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

struct Issues {
    list: Vec<Issue>,
}

impl Issues {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.list.push(Issue {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Checks a spec; `prefix` is the path of the spec itself (`spec`, `policy`).
pub fn validate_spec(spec: &PolicySpec, prefix: &str, require_target: bool) -> Vec<Issue> {
    let mut out = Issues { list: Vec::new() };
    match &spec.target {
        Some(t) => check_object_ref(&mut out, t, &format!("{prefix}.target"), true),
        None if require_target => out.add(
            format!("{prefix}.target"),
            "Required value: the scaled Deployment (apiVersion, kind, name)",
        ),
        None => {}
    }
    let min = spec.min_replicas();
    let scale_to_zero_capable = spec.metrics.iter().any(|m| {
        matches!(
            m.source_type,
            MetricSourceType::Object | MetricSourceType::External
        )
    });
    if min < 0 {
        out.add(
            format!("{prefix}.minReplicas"),
            format!("Invalid value: {min}: must be greater than or equal to 0"),
        );
    } else if min == 0 && !scale_to_zero_capable {
        out.add(
            format!("{prefix}.metrics"),
            "Forbidden: must specify at least one Object or External metric to support scaling to zero replicas",
        );
    }
    if let Some(a) = &spec.activation {
        let path = format!("{prefix}.activation");
        if min != 0 {
            out.add(
                path.clone(),
                format!("Forbidden: activation scales to zero and back; it needs `minReplicas: 0` (is {min})"),
            );
        }
        if a.threshold_milli() < 0 {
            out.add(
                format!("{path}.threshold"),
                "Invalid value: must be 0 or more",
            );
        }
        let c = a.cooldown_s();
        if !(0..=86_400).contains(&c) {
            out.add(
                format!("{path}.cooldownSeconds"),
                format!("Invalid value: {c}: must be between 0 and 86400 seconds"),
            );
        }
    }
    if let Some(b) = &spec.burst {
        check_burst(&mut out, b, &format!("{prefix}.burst"));
    }
    let max = spec.max_replicas;
    if max <= 0 {
        out.add(
            format!("{prefix}.maxReplicas"),
            format!("Invalid value: {max}: must be set and greater than 0"),
        );
    } else if max < min {
        out.add(
            format!("{prefix}.maxReplicas"),
            format!("Invalid value: {max}: must be greater than or equal to `minReplicas` ({min})"),
        );
    }
    if let Some(t) = spec.tick_seconds {
        if !(1..=3600).contains(&t) {
            out.add(
                format!("{prefix}.tickSeconds"),
                format!("Invalid value: {t}: must be between 1 and 3600 seconds"),
            );
        }
    }
    for (i, m) in spec.metrics.iter().enumerate() {
        check_metric(&mut out, m, &format!("{prefix}.metrics[{i}]"));
    }
    if let Some(f) = &spec.forecast {
        check_forecast(&mut out, f, &format!("{prefix}.forecast"));
    }
    if let Some(b) = &spec.behavior {
        if let Some(r) = &b.scale_up {
            check_rules(&mut out, r, &format!("{prefix}.behavior.scaleUp"));
        }
        if let Some(r) = &b.scale_down {
            check_rules(&mut out, r, &format!("{prefix}.behavior.scaleDown"));
        }
    }
    out.list
}

fn check_object_ref(out: &mut Issues, r: &TargetRef, path: &str, needs_group: bool) {
    for (field, value) in [("kind", &r.kind), ("name", &r.name)] {
        if value.is_empty() {
            out.add(format!("{path}.{field}"), "Required value");
        } else if let Some(msg) = path_segment_problem(value) {
            out.add(
                format!("{path}.{field}"),
                format!("Invalid value: {value:?}: {msg}"),
            );
        }
    }
    match r.api_version.as_deref() {
        None | Some("") if needs_group => {
            out.add(format!("{path}.apiVersion"), "Required value: e.g. apps/v1")
        }
        Some(v) if v.split('/').count() > 2 || v.starts_with('/') || v.ends_with('/') => out.add(
            format!("{path}.apiVersion"),
            format!("Invalid value: {v:?}: unexpected GroupVersion string"),
        ),
        Some(v) if needs_group && !v.contains('/') && r.kind != "ReplicationController" => out.add(
            format!("{path}.apiVersion"),
            format!("Invalid value: {v:?}: apiVersion must specify API group"),
        ),
        _ => {}
    }
}

fn path_segment_problem(s: &str) -> Option<&'static str> {
    match s {
        "." => Some("may not be '.'"),
        ".." => Some("may not be '..'"),
        _ if s.contains('/') => Some("may not contain '/'"),
        _ if s.contains('%') => Some("may not contain '%'"),
        _ => None,
    }
}

fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn check_metric(out: &mut Issues, m: &MetricSpec, path: &str) {
    let populated: Vec<&str> = [
        ("object", m.object.is_some()),
        ("external", m.external.is_some()),
        ("pods", m.pods.is_some()),
        ("resource", m.resource.is_some()),
        ("containerResource", m.container_resource.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, set)| set.then_some(f))
    .collect();
    let expected = match &m.source_type {
        MetricSourceType::Resource => "resource",
        MetricSourceType::ContainerResource => "containerResource",
        MetricSourceType::Pods => "pods",
        MetricSourceType::Object => "object",
        MetricSourceType::External => "external",
        MetricSourceType::Other(t) if t.is_empty() => {
            out.add(
                format!("{path}.type"),
                "Required value: must specify a metric source type",
            );
            return;
        }
        MetricSourceType::Other(t) => {
            out.add(
                format!("{path}.type"),
                format!(
                    "Unsupported value: {t:?}: supported values: {}",
                    quoted(MetricSourceType::NAMES)
                ),
            );
            return;
        }
    };
    if !populated.contains(&expected) {
        out.add(
            format!("{path}.{expected}"),
            "Required value: must populate information for the given metric source",
        );
    }
    if populated.len() > 1 {
        for f in populated.iter().filter(|f| **f != expected) {
            out.add(
                format!("{path}.{f}"),
                "Forbidden: must populate the given metric source only",
            );
        }
    }
    let source = m.source_type.clone();
    if let Some(r) = &m.resource {
        let p = format!("{path}.resource");
        if r.name.is_empty() {
            out.add(
                format!("{p}.name"),
                "Required value: must specify a resource name",
            );
        }
        check_target(out, &r.target, &format!("{p}.target"), &source);
    }
    if let Some(r) = &m.container_resource {
        let p = format!("{path}.containerResource");
        if r.name.is_empty() {
            out.add(
                format!("{p}.name"),
                "Required value: must specify a resource name",
            );
        }
        if r.container.is_empty() {
            out.add(
                format!("{p}.container"),
                "Required value: must specify a container",
            );
        } else if !is_dns1123_label(&r.container) {
            out.add(
                format!("{p}.container"),
                format!("Invalid value: {:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, at most 63 characters", r.container),
            );
        }
        check_target(out, &r.target, &format!("{p}.target"), &source);
    }
    let identifiers = [
        ("pods", m.pods.as_ref().map(|s| (&s.metric.name, &s.target))),
        (
            "object",
            m.object.as_ref().map(|s| (&s.metric.name, &s.target)),
        ),
        (
            "external",
            m.external.as_ref().map(|s| (&s.metric.name, &s.target)),
        ),
    ];
    for (field, src) in identifiers {
        let Some((name, target)) = src else { continue };
        let p = format!("{path}.{field}");
        if name.is_empty() {
            out.add(
                format!("{p}.metric.name"),
                "Required value: must specify a metric name",
            );
        } else if let Some(msg) = path_segment_problem(name) {
            out.add(
                format!("{p}.metric.name"),
                format!("Invalid value: {name:?}: {msg}"),
            );
        }
        check_target(out, target, &format!("{p}.target"), &source);
    }
    if let Some(o) = &m.object {
        check_object_ref(
            out,
            &o.described_object,
            &format!("{path}.object.describedObject"),
            false,
        );
    }
    if let Some(st) = &m.stream {
        check_stream(out, st, &format!("{path}.stream"));
    }
    if let Some(k) = &m.kafka_lag {
        check_kafka_lag(out, m, k, &format!("{path}.kafkaLag"));
    }
}

/// A `kafkaLag` block: an External metric whose target is the lag per
/// replica (`AverageValue`, KEDA's lagThreshold) or in total (`Value`).
fn check_kafka_lag(out: &mut Issues, m: &MetricSpec, k: &crate::policy::KafkaLagSpec, path: &str) {
    if m.source_type != MetricSourceType::External {
        out.add(
            path.to_string(),
            "Forbidden: kafkaLag is the source of External metrics only",
        );
    }
    if m.stream.is_some() {
        out.add(
            path.to_string(),
            "Forbidden: a metric reads either a stream or a consumer group's lag, not both",
        );
    }
    for (field, v) in [("group", &k.group), ("topic", &k.topic)] {
        if v.trim().is_empty() {
            out.add(
                format!("{path}.{field}"),
                format!("Required value: the consumer group's {field}"),
            );
        }
    }
    let target = m.external.as_ref().map(|e| &e.target);
    let threshold = target.and_then(|t| t.average_value.as_ref().or(t.value.as_ref()));
    if m.external.is_some() && threshold.is_none_or(|q| q.milli() <= 0) {
        out.add(
            format!("{}.external.target", path.trim_end_matches(".kafkaLag")),
            "Invalid value: a kafkaLag metric needs a positive averageValue (lag per replica) or value",
        );
    }
}

fn check_burst(out: &mut Issues, b: &crate::policy::BurstSpec, path: &str) {
    match b.windows_ms() {
        Err(e) => out.add(format!("{path}.window"), format!("Invalid value: {e}")),
        Ok((short, stable)) => {
            if short < 1000 || short >= stable {
                out.add(
                    format!("{path}.window"),
                    format!("Invalid value: {short} ms: must be at least 1 s and shorter than stableWindow ({stable} ms)"),
                );
            }
            if stable > 3_600_000 {
                out.add(
                    format!("{path}.stableWindow"),
                    "Invalid value: must be at most 1h",
                );
            }
        }
    }
    let t = b.threshold();
    if !(t.is_finite() && (1.0..=100.0).contains(&t)) {
        out.add(
            format!("{path}.threshold"),
            format!("Invalid value: {t}: must be from 1 to 100 (times the ready replicas)"),
        );
    }
}

fn check_forecast(out: &mut Issues, f: &crate::policy::ForecastSpec, path: &str) {
    if f.model.trim().is_empty() {
        out.add(
            format!("{path}.model"),
            "Required value: a model file (scalepilot train --out)",
        );
    }
    let durations = [
        ("horizon", &f.horizon, 1_000, 86_400_000),
        ("gateWindow", &f.gate_window, 60_000, 604_800_000),
    ];
    for (field, value, lo, hi) in durations {
        let Some(v) = value else { continue };
        match crate::duration::parse_ms(v) {
            Err(e) => out.add(format!("{path}.{field}"), format!("Invalid value: {e}")),
            Ok(ms) if !(lo..=hi).contains(&ms) => out.add(
                format!("{path}.{field}"),
                format!(
                    "Invalid value: {v:?}: must be between {}s and {}s",
                    lo / 1000,
                    hi / 1000
                ),
            ),
            _ => {}
        }
    }
    if let Some(r) = f.relax_targets_percent {
        if !(0.0..=MAX_RELAX_TARGETS_PERCENT).contains(&r) {
            out.add(
                format!("{path}.relaxTargetsPercent"),
                format!("Invalid value: {r}: must be between 0 and {MAX_RELAX_TARGETS_PERCENT}"),
            );
        }
    }
    if let Some(m) = f.max_mape_percent {
        if !(m > 0.0 && m <= 1000.0) {
            out.add(
                format!("{path}.maxMapePercent"),
                format!("Invalid value: {m}: must be above 0 and at most 1000"),
            );
        }
    }
}

fn check_stream(out: &mut Issues, st: &StreamSpec, path: &str) {
    let size = crate::duration::parse_ms(&st.window);
    let slide = st.slide.as_deref().map(crate::duration::parse_ms);
    match &size {
        Err(e) => out.add(format!("{path}.window"), format!("Invalid value: {e}")),
        Ok(ms) if !(1000..=86_400_000).contains(ms) => out.add(
            format!("{path}.window"),
            format!("Invalid value: {:?}: must be between 1s and 1d", st.window),
        ),
        _ => {}
    }
    match (&size, &slide) {
        (_, Some(Err(e))) => out.add(format!("{path}.slide"), format!("Invalid value: {e}")),
        (Ok(size), Some(Ok(slide))) if *slide < 1000 || slide > size || size % slide != 0 => out
            .add(
                format!("{path}.slide"),
                format!(
                    "Invalid value: {:?}: must be at least 1s, at most the window, and divide it",
                    st.slide.as_deref().unwrap_or_default()
                ),
            ),
        (Ok(size), Some(Ok(slide))) => {
            if let Err(e) = crate::duration::windows_per_sample(*size, *slide) {
                out.add(
                    format!("{path}.slide"),
                    format!(
                        "Invalid value: {:?}: {e}",
                        st.slide.as_deref().unwrap_or_default()
                    ),
                );
            }
        }
        _ => {}
    }
    if st.aggregate == StreamAggregate::Distinct && st.label.as_deref().is_none_or(str::is_empty) {
        out.add(
            format!("{path}.label"),
            "Required value: `distinct` counts the distinct values of a label",
        );
    }
}

fn check_target(out: &mut Issues, t: &MetricTarget, path: &str, source: &MetricSourceType) {
    let positive = |out: &mut Issues, field: &str, q: &Option<crate::quantity::Quantity>| {
        if let Some(q) = q {
            if q.milli() <= 0 {
                out.add(
                    format!("{path}.{field}"),
                    format!("Invalid value: {:?}: must be positive", q.as_str()),
                );
            }
        }
    };
    positive(out, "value", &t.value);
    positive(out, "averageValue", &t.average_value);
    if let Some(u) = t.average_utilization {
        if u < 1 {
            out.add(
                format!("{path}.averageUtilization"),
                format!("Invalid value: {u}: must be greater than 0"),
            );
        }
    }
    let ty = match &t.target_type {
        None => {
            out.add(
                format!("{path}.type"),
                "Required value: must specify a metric target type",
            );
            return;
        }
        Some(MetricTargetType::Other(v)) => {
            out.add(
                format!("{path}.type"),
                format!("Invalid value: {v:?}: must be either Utilization, Value, or AverageValue"),
            );
            return;
        }
        Some(ty) => ty,
    };
    let resource = matches!(
        source,
        MetricSourceType::Resource | MetricSourceType::ContainerResource
    );
    // The API server's per-source requirements.
    match source {
        MetricSourceType::Resource | MetricSourceType::ContainerResource => {
            if t.average_utilization.is_none() && t.average_value.is_none() {
                out.add(
                    format!("{path}.averageUtilization"),
                    "Required value: must set either a target raw value or a target utilization",
                );
            } else if t.average_utilization.is_some() && t.average_value.is_some() {
                out.add(
                    format!("{path}.averageValue"),
                    "Forbidden: may not set both a target raw value and a target utilization",
                );
            }
        }
        MetricSourceType::Pods if t.average_value.is_none() => {
            out.add(
                format!("{path}.averageValue"),
                "Required value: must specify a positive target averageValue",
            );
        }
        MetricSourceType::Object if t.value.is_none() && t.average_value.is_none() => {
            out.add(
                format!("{path}.value"),
                "Required value: must set either a target value or averageValue",
            );
        }
        MetricSourceType::External => {
            if t.value.is_none() && t.average_value.is_none() {
                out.add(
                    format!("{path}.value"),
                    "Required value: must set either a target value for metric or a per-pod target",
                );
            } else if t.value.is_some() && t.average_value.is_some() {
                out.add(
                    format!("{path}.value"),
                    "Forbidden: may not set both a target value for metric and a per-pod target",
                );
            }
        }
        _ => {}
    }
    // Stricter than the API server: the type must name the value the HPA will use.
    let (field, set) = match ty {
        MetricTargetType::Utilization => ("averageUtilization", t.average_utilization.is_some()),
        MetricTargetType::Value => ("value", t.value.is_some()),
        MetricTargetType::AverageValue => ("averageValue", t.average_value.is_some()),
        MetricTargetType::Other(_) => return,
    };
    if *ty == MetricTargetType::Utilization && !resource {
        out.add(format!("{path}.type"), "Invalid value: \"Utilization\": a Utilization target is only valid for Resource and ContainerResource metrics (scalepilot rule)");
    } else if *ty == MetricTargetType::Value && (resource || *source == MetricSourceType::Pods) {
        out.add(format!("{path}.type"), format!("Invalid value: \"Value\": {source} metrics take Utilization or AverageValue targets (scalepilot rule)"));
    } else if !set {
        out.add(
            format!("{path}.{field}"),
            format!("Required value: target type {ty} needs {field} (scalepilot rule)"),
        );
    }
    for (other, present) in [
        ("averageUtilization", t.average_utilization.is_some()),
        ("value", t.value.is_some()),
        ("averageValue", t.average_value.is_some()),
    ] {
        if present && other != field {
            out.add(format!("{path}.{other}"), format!("Forbidden: target type is {ty}, so {other} would be ignored or misread (scalepilot rule)"));
        }
    }
}

fn check_rules(out: &mut Issues, r: &ScalingRules, path: &str) {
    if let Some(w) = r.stabilization_window_seconds {
        if w < 0 {
            out.add(
                format!("{path}.stabilizationWindowSeconds"),
                format!("Invalid value: {w}: must be greater than or equal to zero"),
            );
        } else if w > 3600 {
            out.add(
                format!("{path}.stabilizationWindowSeconds"),
                format!("Invalid value: {w}: must be less than or equal to 3600"),
            );
        }
    }
    if let Some(policies) = &r.policies {
        if policies.is_empty() {
            out.add(
                format!("{path}.policies"),
                "Required value: must specify at least one Policy",
            );
        }
        for (j, p) in policies.iter().enumerate() {
            let pp = format!("{path}.policies[{j}]");
            if p.value <= 0 {
                out.add(
                    format!("{pp}.value"),
                    format!("Invalid value: {}: must be greater than zero", p.value),
                );
            }
            if p.period_seconds <= 0 {
                out.add(
                    format!("{pp}.periodSeconds"),
                    format!(
                        "Invalid value: {}: must be greater than zero",
                        p.period_seconds
                    ),
                );
            } else if p.period_seconds > 1800 {
                out.add(
                    format!("{pp}.periodSeconds"),
                    format!(
                        "Invalid value: {}: must be less than or equal to 1800",
                        p.period_seconds
                    ),
                );
            }
        }
    }
    if let Some(t) = &r.tolerance {
        if t.as_f64() < 0.0 {
            out.add(
                format!("{path}.tolerance"),
                format!(
                    "Invalid value: {:?}: must be greater than or equal to 0",
                    t.as_str()
                ),
            );
        }
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
