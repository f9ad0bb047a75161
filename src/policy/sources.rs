//! Which source feeds each metric of a policy in the live controller, decided
//! from the metric's spec alone when policies load: a `stream` block reads the
//! metric stream on Kafka; a `Resource` or `ContainerResource` metric without
//! one reads `metrics.k8s.io` (cpu and memory, what metrics-server serves), as
//! the HPA does. A metric no source can provide is a problem of its policy, at
//! its `file:line:column`, saying what to add: `validate` and `run` reject it
//! (the simulator and `decide` bring their own metrics and do not ask).
//!
//! Pure: the runtime sources behind these kinds live in `crate::sources`.

use std::path::Path;

use super::load::{LoadReport, LoadedPolicy, Problem};
use super::schema::{MetricSourceType, MetricSpec};
use super::spans;

/// The resources metrics-server reports for every container.
pub const METRICS_API_RESOURCES: &[&str] = &["cpu", "memory"];

/// A kind of metric source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// Samples on Kafka, windowed by the features engine (`stream` block).
    Stream,
    /// `metrics.k8s.io/v1beta1` PodMetrics (metrics-server).
    MetricsApi,
    /// A Kafka consumer group's lag, read from the brokers (`kafkaLag` block).
    KafkaLag,
}

impl SourceKind {
    /// The name users see (`observe`, metrics labels, logs).
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Stream => "stream",
            SourceKind::MetricsApi => "metrics.k8s.io",
            SourceKind::KafkaLag => "kafkaLag",
        }
    }

    /// Whether this source reads from the Kafka brokers.
    pub fn needs_broker(self) -> bool {
        matches!(self, SourceKind::Stream | SourceKind::KafkaLag)
    }
}

/// Why no source can provide a metric: the path of the field to blame and
/// what to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoSource {
    /// Relative to the metric, e.g. `resource.name` (empty: the metric).
    pub field: &'static str,
    pub message: String,
}

/// The source of metric `m` in the live controller.
pub fn source_of(m: &MetricSpec) -> Result<SourceKind, NoSource> {
    if m.stream.is_some() {
        return Ok(SourceKind::Stream);
    }
    if m.kafka_lag.is_some() {
        return Ok(SourceKind::KafkaLag);
    }
    let resource = match m.source_type {
        MetricSourceType::Resource => m.resource.as_ref().map(|r| (&r.name, "resource.name")),
        MetricSourceType::ContainerResource => m
            .container_resource
            .as_ref()
            .map(|r| (&r.name, "containerResource.name")),
        _ => None,
    };
    match resource {
        Some((name, _)) if METRICS_API_RESOURCES.contains(&name.as_str()) => {
            Ok(SourceKind::MetricsApi)
        }
        Some((name, field)) => Err(NoSource {
            field,
            message: format!(
                "Unsupported value: {name:?}: metrics.k8s.io reports only {}; add a `stream:` block \
                 (e.g. `stream: {{window: 60s, aggregate: mean}}`) to read {name} from samples on Kafka",
                METRICS_API_RESOURCES.join(" and ")
            ),
        }),
        None => Err(NoSource {
            field: "",
            message: format!(
                "no source provides this {} metric: add a `stream:` block (e.g. `stream: {{window: \
                 60s, aggregate: mean}}`) to compute it from samples on Kafka, or (External) a \
                 `kafkaLag: {{group: G, topic: T}}` block for a consumer group's lag; only Resource and \
                 ContainerResource cpu/memory metrics are read from metrics.k8s.io without one",
                m.source_type.as_str()
            ),
        }),
    }
}

/// The built-in kinds that serve `/scale` (the HPA's targets). Custom
/// resources are checked by the live controller against the API server's
/// discovery: whether their CRD declares the subresource is not known offline.
pub const SCALABLE: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "ReplicaSet"),
    ("v1", "ReplicationController"),
];

/// Whether `api_version`'s group is one of Kubernetes' own (the core group,
/// a group without a dot such as `apps` or `batch`, or `*.k8s.io`): their
/// kinds are all known, so one missing from [`SCALABLE`] cannot be scaled.
fn built_in_group(api_version: &str) -> bool {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    !group.contains('.') || group.ends_with(".k8s.io")
}

/// Why the target kind cannot be scaled, if it cannot. (A missing or
/// group-less apiVersion is refused earlier, by the validator.)
fn unscalable(api_version: &str, kind: &str) -> Option<String> {
    if SCALABLE.contains(&(api_version, kind)) || !built_in_group(api_version) {
        return None;
    }
    let known: Vec<String> = SCALABLE.iter().map(|(v, k)| format!("{v} {k}")).collect();
    Some(format!(
        "Unsupported value: {api_version} {kind}: it has no /scale subresource, so nothing can \
         scale it; scalable kinds are {} and custom resources with a /scale subresource \
         (e.g. argoproj.io/v1alpha1 Rollout)",
        known.join(", ")
    ))
}

/// What keeps the live controller from running one loaded policy: a target
/// kind it cannot scale, a metric no source provides; located in `text` (the
/// file's contents), which is indexed only when there is a problem to locate
/// (indexing the whole file for each of its 1 000 policies took 45 s).
pub fn source_problems(p: &LoadedPolicy, text: &str) -> Vec<Problem> {
    let mut found: Vec<(String, String)> = Vec::new();
    if let Some(t) = &p.policy.spec.target {
        let api_version = t.api_version.as_deref().unwrap_or_default();
        if let Some(message) = unscalable(api_version, &t.kind) {
            found.push(("spec.target.kind".into(), message));
        }
    }
    for (i, m) in p.policy.spec.metrics.iter().enumerate() {
        let Err(e) = source_of(m) else { continue };
        let mut path = format!("spec.metrics[{i}]");
        if !e.field.is_empty() {
            path = format!("{path}.{}", e.field);
        }
        found.push((path, e.message));
    }
    if p.policy.spec.burst.is_some() && !p.policy.spec.metrics.iter().any(|m| m.stream.is_some()) {
        found.push(("spec.burst".into(), "Forbidden: burst mode reads the policy's stream metrics over a short window; none of its metrics has a `stream:` block".into()));
    }
    if found.is_empty() {
        return Vec::new();
    }
    let docs = spans::index(text).unwrap_or_default();
    let doc = docs.iter().find(|d| d.start.0 == p.line);
    found
        .into_iter()
        .map(|(path, message)| {
            let (line, column) = doc.map_or((p.line, 1), |d| {
                let alt = (path == "spec.target.kind")
                    .then(|| d.get("spec.scaleTargetRef.kind"))
                    .flatten();
                d.get(&path).or(alt).unwrap_or_else(|| d.find(&path))
            });
            Problem {
                file: p.file.clone(),
                line,
                column,
                path,
                message,
            }
        })
        .collect()
}

/// Moves every policy with a metric no source can provide out of `report`,
/// adding its problems (files are read again to locate them).
pub fn check_sources(report: &mut LoadReport) {
    let mut texts: std::collections::BTreeMap<&Path, String> = Default::default();
    let mut rejected = Vec::new();
    let mut problems = Vec::new();
    for (i, p) in report.policies.iter().enumerate() {
        let text = texts
            .entry(p.file.as_path())
            .or_insert_with(|| std::fs::read_to_string(&p.file).unwrap_or_default());
        let found = source_problems(p, text);
        if !found.is_empty() {
            problems.extend(found);
            rejected.push(i);
        }
    }
    for i in rejected.into_iter().rev() {
        report.policies.remove(i);
    }
    report.problems.extend(problems);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::load_file;

    fn load(text: &str) -> LoadReport {
        load_file(Path::new("p.yaml"), text)
    }

    const HEAD: &str = "apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: web, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 10
  metrics:
";

    #[test]
    fn cpu_and_memory_come_from_the_metrics_api_and_streams_from_kafka() {
        let r = load(&format!(
            "{HEAD}    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 60}}}}
    - type: ContainerResource
      containerResource: {{name: memory, container: app, target: {{type: Utilization, averageUtilization: 60}}}}
    - type: External
      external:
        metric: {{name: rps}}
        target: {{type: AverageValue, averageValue: \"10\"}}
      stream: {{window: 60s, aggregate: rate}}
"
        ));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        let kinds: Vec<_> = r.policies[0]
            .policy
            .spec
            .metrics
            .iter()
            .map(|m| source_of(m).unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                SourceKind::MetricsApi,
                SourceKind::MetricsApi,
                SourceKind::Stream
            ]
        );
    }

    #[test]
    fn kafka_lag_is_an_external_metric_with_a_positive_target_per_replica() {
        let lag = |ty: &str, target: &str, extra: &str| {
            format!(
                "{HEAD}    - type: {ty}
      {field}:
        metric: {{name: kafka_consumer_lag}}
        target: {target}
      kafkaLag: {{group: workers, topic: orders}}
{extra}",
                field = ty.to_lowercase()
            )
        };
        let ok = load(&lag(
            "External",
            "{type: AverageValue, averageValue: \"100\"}",
            "",
        ));
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        let m = &ok.policies[0].policy.spec.metrics[0];
        assert_eq!(source_of(m), Ok(SourceKind::KafkaLag));
        assert!(SourceKind::KafkaLag.needs_broker());
        let k = m.kafka_lag.as_ref().unwrap();
        assert_eq!(
            k.offset_reset_policy,
            crate::policy::OffsetResetPolicy::Latest
        );
        assert!(!k.allow_idle_consumers && !k.exclude_persistent_lag);

        let zero = load(&lag(
            "External",
            "{type: AverageValue, averageValue: \"0\"}",
            "",
        ));
        assert!(
            zero.problems
                .iter()
                .any(|p| p.path == "spec.metrics[0].external.target"),
            "{:?}",
            zero.problems
        );
        let pods = load(&lag(
            "Pods",
            "{type: AverageValue, averageValue: \"5\"}",
            "",
        ));
        assert!(
            pods.problems
                .iter()
                .any(|p| p.path == "spec.metrics[0].kafkaLag"
                    && p.message.contains("External metrics only")),
            "{:?}",
            pods.problems
        );
        let both = load(&lag(
            "External",
            "{type: AverageValue, averageValue: \"5\"}",
            "      stream: {window: 60s, aggregate: rate}\n",
        ));
        assert!(
            both.problems.iter().any(|p| p.message.contains("not both")),
            "{:?}",
            both.problems
        );
        let typo = load(
            &lag("External", "{type: Value, value: \"5\"}", "")
                .replace("topic: orders", "topik: orders"),
        );
        assert!(
            typo.problems.iter().any(|p| p.message.contains("topik")),
            "{:?}",
            typo.problems
        );
    }

    #[test]
    fn kinds_without_scale_are_refused_and_custom_resources_left_to_discovery() {
        let text = format!("{HEAD}    - type: Resource\n      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 60}}}}\n");
        let with = |target: &str| text.replace("apiVersion: apps/v1, kind: Deployment", target);
        let problems_of = |target: &str| {
            let t = with(target);
            let r = load(&t);
            assert_eq!(r.policies.len(), 1, "{target}: {:?}", r.problems);
            source_problems(&r.policies[0], &t)
        };
        for bad in [
            "apiVersion: apps/v1, kind: DaemonSet",
            "apiVersion: batch/v1, kind: Job",
            "apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler",
            "apiVersion: networking.k8s.io/v1, kind: Ingress",
        ] {
            let problems = problems_of(bad);
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert_eq!(problems[0].path, "spec.target.kind");
            assert_eq!(problems[0].line, 5);
            let kind = bad.rsplit(' ').next().unwrap();
            assert!(
                problems[0].message.contains(kind),
                "{bad}: {}",
                problems[0].message
            );
        }
        // The core group and a missing apiVersion are refused earlier, by
        // the validator, as the HPA's own validation does.
        for early in ["apiVersion: v1, kind: Pod", "kind: Deployment"] {
            let r = load(&with(early));
            assert!(r.policies.is_empty(), "{early}");
            assert!(
                r.problems
                    .iter()
                    .any(|p| p.path == "spec.target.apiVersion"),
                "{early}: {:?}",
                r.problems
            );
        }
        assert!(problems_of("apiVersion: apps/v1, kind: DaemonSet")[0]
            .message
            .contains("no /scale subresource"));
        for good in [
            "apiVersion: apps/v1, kind: Deployment",
            "apiVersion: apps/v1, kind: StatefulSet",
            "apiVersion: apps/v1, kind: ReplicaSet",
            "apiVersion: v1, kind: ReplicationController",
            "apiVersion: argoproj.io/v1alpha1, kind: Rollout",
        ] {
            assert!(problems_of(good).is_empty(), "{good}");
        }
    }

    #[test]
    fn a_metric_nothing_provides_is_located_and_says_what_to_add() {
        let text = format!(
            "{HEAD}    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 60}}}}
    - type: Pods
      pods:
        metric: {{name: jobs}}
        target: {{type: AverageValue, averageValue: \"5\"}}
    - type: Resource
      resource:
        name: ephemeral-storage
        target: {{type: Utilization, averageUtilization: 60}}
"
        );
        let mut r = load(&text);
        assert_eq!(r.policies.len(), 1);
        let problems = source_problems(&r.policies[0], &text);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(
            (problems[0].line, problems[0].path.as_str()),
            (10, "spec.metrics[1]")
        );
        assert!(problems[0].message.contains("add a `stream:` block"));
        assert_eq!(problems[1].line, 16, "{}", problems[1]);
        assert!(problems[1].message.contains("ephemeral-storage"));
        // check_sources reads the file again; here the file does not exist,
        // so the problems fall back to the document's line.
        check_sources(&mut r);
        assert!(r.policies.is_empty());
        assert_eq!(r.problems.len(), 2);
    }
}
