//! Rule-by-rule tests of the decision chain, written from the HPA's
//! specification (`replica_calculator.go`, `horizontal.go`).

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::policy::{MetricSourceType, PolicySpec};

mod combine;
mod limits;
mod reasons;
mod recompute;
mod text;

fn t(s: i64) -> Time {
    Utc.timestamp_opt(1_767_268_800 + s, 0).unwrap()
}

fn spec(yaml: &str) -> PolicySpec {
    serde_saphyr::from_str(yaml).expect("test policy parses")
}

const CPU50: &str = "{minReplicas: 1, maxReplicas: 20, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]}";

/// A test case: a policy, pods, observations and history at `t(0)`.
#[derive(Clone)]
struct Case {
    policy: PolicySpec,
    current: i32,
    status: Option<i32>,
    pods: Vec<Pod>,
    obs: Vec<Observation>,
    raw: Option<i32>,
    history: History,
    controller: ControllerConfig,
    forecast: Option<Forecast>,
    burst: Vec<Observation>,
}

fn case(policy: &str, current: i32) -> Case {
    Case {
        policy: spec(policy),
        current,
        status: None,
        pods: (0..current).map(|i| pod(&format!("p{i}"), 1000)).collect(),
        obs: Vec::new(),
        raw: None,
        history: History {
            recommendations: Some(Vec::new()),
            ..Default::default()
        },
        controller: ControllerConfig::default(),
        forecast: None,
        burst: Vec::new(),
    }
}

/// A running, ready pod started an hour ago with one container requesting `cpu_milli`.
fn pod(name: &str, cpu_milli: i64) -> Pod {
    Pod {
        name: name.into(),
        phase: PodPhase::Running,
        ready: Some(true),
        ready_transition_time: t(-3590),
        deleted: false,
        start_time: Some(t(-3600)),
        containers: vec![Container {
            name: "app".into(),
            requests: [
                ("cpu".to_string(), cpu_milli),
                ("memory".to_string(), 1_000_000),
            ]
            .into(),
        }],
        pod_requests: BTreeMap::new(),
    }
}

fn sample(value: i64) -> PodSample {
    PodSample {
        value: Some(value),
        containers: BTreeMap::new(),
        timestamp: t(0),
        window: Duration::seconds(60),
    }
}

fn per_pod(source_type: MetricSourceType, name: &str, levels: &[(&str, i64)]) -> Observation {
    Observation {
        source_type,
        name: name.into(),
        pods: levels
            .iter()
            .map(|(p, v)| (p.to_string(), sample(*v)))
            .collect(),
        value: None,
        values: Vec::new(),
        error: None,
    }
}

fn cpu(levels: &[i64]) -> Observation {
    let named: Vec<(String, i64)> = levels
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("p{i}"), *v))
        .collect();
    let refs: Vec<(&str, i64)> = named.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    per_pod(MetricSourceType::Resource, "cpu", &refs)
}

fn object(name: &str, value: i64) -> Observation {
    Observation {
        source_type: MetricSourceType::Object,
        name: name.into(),
        pods: BTreeMap::new(),
        value: Some(value),
        values: Vec::new(),
        error: None,
    }
}

fn external(name: &str, values: &[i64]) -> Observation {
    Observation {
        source_type: MetricSourceType::External,
        name: name.into(),
        pods: BTreeMap::new(),
        value: None,
        values: values.to_vec(),
        error: None,
    }
}

impl Case {
    /// The decision's input at `t(0)`, with the explanation on.
    fn input(&self) -> DecisionInput<'_> {
        DecisionInput {
            now: t(0),
            policy: &self.policy,
            controller: self.controller.clone(),
            current_replicas: self.current,
            status_replicas: self.status.unwrap_or(self.current),
            pods: self.pods.clone().into(),
            observations: self.obs.clone(),
            raw_recommendation: self.raw,
            explain: true,
            forecast: self.forecast.clone(),
            burst: self.burst.clone(),
        }
    }

    fn run(&self) -> Decision {
        decide(&self.input(), self.history.clone())
    }

    fn desired(&self) -> i32 {
        self.run().desired_replicas
    }
}

fn condition<'a>(d: &'a Decision, ty: &str) -> &'a Condition {
    d.conditions
        .iter()
        .find(|c| c.condition_type == ty)
        .unwrap_or_else(|| panic!("no {ty} in {:?}", d.conditions))
}

// ---- Resource utilization -------------------------------------------------

#[test]
fn utilization_scales_to_ceil_of_ratio_times_ready_pods() {
    let mut c = case(CPU50, 3);
    c.obs = vec![cpu(&[900, 800, 700])]; // 80 % of 1000m requests; ratio 1.6
    let d = c.run();
    assert_eq!(d.desired_replicas, 5);
    assert_eq!(d.proposals[0].utilization_percent, Some(80));
    assert_eq!(d.proposals[0].raw_value.as_deref(), Some("800m"));
    assert_eq!(
        d.rescale_reason.as_deref(),
        Some("cpu resource utilization (percentage of request) above target")
    );
}

#[test]
fn utilization_is_truncated_to_an_integer_percent() {
    // 55.9 % truncates to 55 %: ratio 1.1 exactly, within tolerance.
    let mut c = case(CPU50, 1);
    c.obs = vec![cpu(&[559])];
    let d = c.run();
    assert_eq!(d.proposals[0].utilization_percent, Some(55));
    assert_eq!(d.desired_replicas, 1);
    assert_eq!(d.proposals[0].within_tolerance, Some(true));
}

#[test]
fn a_pod_sample_of_containers_only_counts_their_sum() {
    // p2 reports no pod value, only its containers': 450m + 450m = 900m,
    // like the others: 90 % of 50 % → 6. (Left out, it would count as
    // missing: 4.)
    let mut c = case(CPU50, 3);
    c.obs = vec![cpu(&[900, 900, 900])];
    let p2 = c.obs[0].pods.get_mut("p2").unwrap();
    p2.value = None;
    p2.containers = [("app".to_string(), 450), ("sidecar".to_string(), 450)].into();
    let d = c.run();
    assert_eq!(d.proposals[0].utilization_percent, Some(90));
    assert_eq!(d.desired_replicas, 6);
}

#[test]
fn tolerance_band_is_inclusive() {
    let mut c = case(CPU50, 3);
    c.obs = vec![cpu(&[550, 550, 550])]; // ratio 1.1: on the edge, kept
    assert_eq!(c.desired(), 3);
    c.obs = vec![cpu(&[560, 560, 560])]; // ratio 1.12 → ceil(3.36) = 4
    assert_eq!(c.desired(), 4);
    let mut d = case("{maxReplicas: 20, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]}", 10);
    d.obs = vec![cpu(&[450; 10])]; // ratio 0.9: kept
    assert_eq!(d.desired(), 10);
    d.obs = vec![cpu(&[440; 10])]; // ratio 0.88 → ceil(8.8) = 9
    assert_eq!(d.desired(), 9);
}

#[test]
fn scale_down_outside_tolerance() {
    let mut c = case(CPU50, 4);
    c.obs = vec![cpu(&[440, 440, 440, 440])]; // ratio 0.88 → ceil(3.52) = 4: no change
    assert_eq!(c.desired(), 4);
    c.obs = vec![cpu(&[250, 250, 250, 250])]; // ratio 0.5 → 2
    c.policy = spec("{minReplicas: 1, maxReplicas: 20, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]}");
    assert_eq!(c.desired(), 2);
}

#[test]
fn per_direction_tolerance_from_behavior() {
    let policy = |up: &str, down: &str| {
        format!("{{maxReplicas: 20, behavior: {{scaleUp: {{tolerance: '{up}'}}, scaleDown: {{tolerance: '{down}', stabilizationWindowSeconds: 0}}}}, metrics: [{{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 100}}}}}}]}}")
    };
    let mut c = case(&policy("0", "0"), 3);
    c.obs = vec![cpu(&[1010, 1010, 1010])]; // 101 %
    assert_eq!(c.desired(), 4);
    c.policy = spec(&policy("2.0", "0.1"));
    c.obs = vec![cpu(&[1900, 1900, 1900])]; // 190 %: within an up tolerance of 2.0
    assert_eq!(c.desired(), 3);
    c.policy = spec(&policy("0.1", "0.36"));
    c.obs = vec![cpu(&[650, 650, 650])]; // 65 %: within a down tolerance of 0.36
    assert_eq!(c.desired(), 3);
    c.policy = spec(&policy("0.1", "340m"));
    assert_eq!(c.desired(), 2);
}

#[test]
fn controller_tolerance_applies_without_behavior_overrides() {
    let mut c = case(CPU50, 3);
    c.controller.tolerance = 0.5;
    c.obs = vec![cpu(&[700, 700, 700])]; // ratio 1.4 within 0.5
    assert_eq!(c.desired(), 3);
}

#[test]
fn missing_pods_count_as_full_request_on_scale_down() {
    // Target 50 %, three pods at 10 %, one without a sample: the missing pod
    // counts as 100 % of its request: (3×100 + 1000)/4000 = 32 % → ratio 0.64 → ceil(0.64×4) = 3.
    let mut c = case(CPU50, 4);
    c.obs = vec![cpu(&[100, 100, 100])];
    c.policy = spec("{maxReplicas: 20, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]}");
    assert_eq!(c.desired(), 3);
}

#[test]
fn missing_pods_use_the_target_when_it_is_above_100_percent() {
    // Target 300 %: a missing pod counts as 300 % of its request on scale-down.
    let mut c = case("{maxReplicas: 20, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 300}}}]}", 4);
    c.obs = vec![cpu(&[500, 500, 500])]; // 50 % → ratio 1/6
                                         // recomputed: (1500 + 3000)/4000 = 112 % → ratio 0.3733 → ceil(1.49) = 2
    assert_eq!(c.desired(), 2);
}

/// Found by the fuzz harness (`tests/fuzz.rs`, snapshots): a missing pod
/// whose CPU request saturated (`"1e308"`) overflowed `request × percent` on
/// a scale-down.
#[test]
fn a_missing_pod_with_a_saturated_request_does_not_overflow() {
    let mut c = case(CPU50, 4);
    c.pods[3] = pod("p3", i64::MAX);
    c.obs = vec![cpu(&[100, 100, 100])];
    // 10 % → ratio 0.2; with p3 at its whole request about 100 % → ratio 2:
    // the direction would flip, so nothing changes.
    assert_eq!(c.desired(), 4);
}

#[test]
fn missing_pods_count_as_zero_on_scale_up() {
    // Two pods at 100 % (target 50 %), two missing: (2000+0)/4000 = 50 % → within tolerance → keep.
    let mut c = case(CPU50, 4);
    c.obs = vec![cpu(&[1000, 1000])];
    assert_eq!(c.desired(), 4);
    // Two at 150 %: 3000/4000 = 75 % → ratio 1.5 → ceil(1.5 × 4 samples) = 6.
    c.obs = vec![cpu(&[1500, 1500])];
    assert_eq!(c.desired(), 6);
}

/// The explanation names the ratio the band was applied to: 2.0 among the
/// pods with metrics, 1.0 once the missing ones count as zero, so "2.000 is
/// within the band" would contradict itself; and it says the count came from
/// fewer pods than there are replicas.
#[test]
fn the_explanation_says_when_missing_pods_changed_the_ratio() {
    let mut c = case(CPU50, 4);
    c.obs = vec![cpu(&[1000, 1000])];
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    let p = &d.proposals[0];
    assert_eq!(p.ratio, Some(2.0));
    assert_eq!(p.adjusted_ratio, Some(1.0));
    assert_eq!(p.pods_counted, Some(4));
    let tol = d.steps.iter().find(|s| s.step == "tolerance").unwrap();
    assert!(
        tol.message.contains("usage ratio 2.000")
            && tol
                .message
                .contains("(1.000 once pods without metrics or not ready were counted) is within"),
        "{}",
        tol.message
    );
    // Two ready pods listed for four replicas: the count is from two pods.
    c.pods.truncate(2);
    let d = c.run();
    assert_eq!(d.proposals[0].pods_counted, Some(2));
    assert_eq!(d.proposals[0].adjusted_ratio, None);
    let text = d.to_text();
    assert!(
        text.contains("from 2 pods: the other 2 of the 4 current replicas"),
        "{text}"
    );
}

#[test]
fn unready_pods_count_as_zero_on_scale_up_only() {
    let mut c = case(CPU50, 3);
    c.pods[2].ready = Some(false);
    c.pods[2].ready_transition_time = t(-3595); // never became ready: unready for CPU
                                                // Ready pods at 100 %: ratio 2 > 1, so the unready pod counts as 0: 2000/3000 = 66 % → 1.32 → ceil(3.96) = 4.
    c.obs = vec![cpu(&[1000, 1000, 1000])];
    assert_eq!(c.desired(), 4);
    // Scale-down: the unready pod's sample is just dropped: 20 % → 0.4 → ceil(0.8) = 1.
    c.obs = vec![cpu(&[200, 200, 1000])];
    c.policy = spec("{maxReplicas: 20, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]}");
    assert_eq!(c.desired(), 1);
}

#[test]
fn pending_pods_are_unready_failed_and_deleted_are_ignored() {
    let mut c = case(CPU50, 3);
    c.pods[1].phase = PodPhase::Failed;
    c.pods[2].deleted = true;
    c.pods.push(Pod {
        phase: PodPhase::Pending,
        ..pod("pending", 1000)
    });
    // Only p0 counts: 100 % → ratio 2; the pending pod is unready → 0: 1000/2000 = 50 % → within → keep 3.
    c.obs = vec![cpu(&[1000, 900, 900])];
    let d = c.run();
    assert_eq!(d.desired_replicas, 3);
    assert_eq!(d.proposals[0].utilization_percent, Some(100));
}

#[test]
fn direction_flip_guard_keeps_current() {
    // Scale-up ratio, but filling unready pods with 0 flips it below 1: keep current.
    let mut c = case(CPU50, 4);
    for p in &mut c.pods[1..] {
        p.phase = PodPhase::Pending;
    }
    c.obs = vec![cpu(&[600])]; // 60 % → 1.2; with 3 unready at 0: 600/4000 = 15 % → 0.3 (flipped)
    assert_eq!(c.desired(), 4);
}

#[test]
fn new_count_moving_against_the_ratio_keeps_current() {
    // A rolling update: the scale says 2, four pods exist, two without samples.
    let mut c = case("{maxReplicas: 20, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}, metrics: [{type: Pods, pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: '10'}}}]}", 2);
    c.pods = (0..4).map(|i| pod(&format!("p{i}"), 1000)).collect();
    c.obs = vec![per_pod(
        MetricSourceType::Pods,
        "qps",
        &[("p0", 5000), ("p1", 5000)],
    )];
    // ratio 0.5; missing pods count as the target: (5+5+10+10)/4 = 7.5 → 0.75 → ceil(3) = 3 > 2: keep 2.
    assert_eq!(c.desired(), 2);
    c.current = 4;
    assert_eq!(c.desired(), 3);
}

#[test]
fn cpu_pods_in_initialization_with_a_fresh_sample_window_are_unready() {
    let mut c = case(CPU50, 2);
    c.pods[1].start_time = Some(t(-30));
    c.pods[1].ready_transition_time = t(-20); // ready 20 s ago; sample window 60 s
    c.obs = vec![cpu(&[1000, 1000])];
    // p1 unready → ratio 2 over p0; p1 counts 0: 1000/2000 = 50 % → within → keep 2.
    assert_eq!(c.desired(), 2);
    // A memory metric ignores readiness: both at 100 % of 1 MB... use AverageValue to check.
    let mut m = case("{maxReplicas: 20, metrics: [{type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: '500'}}}]}", 2);
    m.pods = c.pods.clone();
    m.obs = vec![per_pod(
        MetricSourceType::Resource,
        "memory",
        &[("p0", 1_000_000), ("p1", 1_000_000)],
    )];
    assert_eq!(m.desired(), 4);
}

#[test]
fn container_resource_uses_one_containers_requests_and_samples() {
    let mut c = case("{maxReplicas: 20, metrics: [{type: ContainerResource, containerResource: {name: cpu, container: app, target: {type: Utilization, averageUtilization: 50}}}]}", 2);
    for p in &mut c.pods {
        p.containers.push(Container {
            name: "sidecar".into(),
            requests: [("cpu".to_string(), 9000)].into(),
        });
    }
    let mut obs = per_pod(MetricSourceType::ContainerResource, "cpu", &[]);
    for name in ["p0", "p1"] {
        obs.pods.insert(
            name.into(),
            PodSample {
                value: None,
                containers: [("app".to_string(), 1000), ("sidecar".to_string(), 0)].into(),
                timestamp: t(0),
                window: Duration::seconds(60),
            },
        );
    }
    c.obs = vec![obs];
    let d = c.run();
    assert_eq!(d.proposals[0].utilization_percent, Some(100));
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(
        d.proposals[0].metric,
        "cpu container resource utilization (percentage of request)"
    );
}

#[test]
fn missing_request_is_an_error() {
    let mut c = case(CPU50, 2);
    c.pods[1].containers[0].requests.remove("cpu");
    c.obs = vec![cpu(&[500, 500])];
    let d = c.run();
    assert!(
        d.error
            .as_deref()
            .unwrap()
            .contains("missing request for cpu in container app of Pod p1"),
        "{:?}",
        d.error
    );
    assert_eq!(
        condition(&d, "ScalingActive").reason,
        "FailedGetResourceMetric"
    );
    assert_eq!(d.desired_replicas, 2);
}

#[test]
fn no_samples_for_ready_pods_is_an_error() {
    let mut c = case(CPU50, 2);
    c.obs = vec![per_pod(
        MetricSourceType::Resource,
        "cpu",
        &[("other", 500)],
    )];
    let d = c.run();
    assert!(
        d.error
            .as_deref()
            .unwrap()
            .contains("no metrics returned matched known pods"),
        "{:?}",
        d.error
    );
    c.obs = vec![];
    let d = c.run();
    assert!(d.error.is_some());
    assert_eq!(condition(&d, "AbleToScale").reason, "SucceededGetScale");
}

// ---- Pods, Object, External -------------------------------------------------

/// At a usage ratio of exactly 1 the HPA fills in neither missing nor
/// unready pods (`< 1` and `> 1` are strict): the count stays. Found by
/// cargo-mutants (`>` → `>=` and `<` → `<=` survived).
#[test]
fn a_ratio_of_exactly_one_fills_in_no_pods() {
    const CPU50_NOW: &str = "{maxReplicas: 20, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]}";
    const QPS10_NOW: &str = "{maxReplicas: 20, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}, metrics: [{type: Pods, pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: '10'}}}]}";
    for (policy, obs) in [
        (CPU50_NOW, cpu(&[500, 500, 500])),
        (
            QPS10_NOW,
            per_pod(
                MetricSourceType::Pods,
                "qps",
                &[("p0", 10_000), ("p1", 10_000), ("p2", 10_000)],
            ),
        ),
    ] {
        // p3 has no sample (missing); filled with the request it would be
        // 62.5 % (→ 5), filled with zero 37.5 % (→ 3).
        let mut c = case(policy, 4);
        c.obs = vec![obs];
        assert_eq!(c.desired(), 4, "{policy}: missing");
        // p3 pending (unready); filled with zero → 3.
        c.pods[3].phase = PodPhase::Pending;
        assert_eq!(c.desired(), 4, "{policy}: unready");
    }
}

/// Per-pod (Pods) metrics fill in missing and pending pods as CPU does: on a
/// scale-up they count as zero, which can bring the ratio into tolerance.
#[test]
fn pods_metric_fills_missing_and_unready_pods_on_scale_up() {
    let policy = "{maxReplicas: 20, metrics: [{type: Pods, pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: '10'}}}]}";
    let obs = per_pod(
        MetricSourceType::Pods,
        "qps",
        &[("p0", 21_000), ("p1", 21_000)],
    );
    // Two pods at 21 (ratio 2.1); the other two missing, then pending,
    // count as 0: 42/40 = 1.05 is within tolerance: keep 4 (not ceil(4.2) = 5).
    let mut c = case(policy, 4);
    c.obs = vec![obs];
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(d.proposals[0].pods_counted, Some(4));
    assert_eq!(d.proposals[0].adjusted_ratio, Some(1.05));
    for p in &mut c.pods[2..] {
        p.phase = PodPhase::Pending;
    }
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(d.proposals[0].adjusted_ratio, Some(1.05));
    // Without missing or unready pods: ceil(ratio × ready pods), 3 × 2 = 6.
    let mut c = case(policy, 2);
    c.controller.scale_up_limit_factor = 8.0;
    c.obs = vec![per_pod(
        MetricSourceType::Pods,
        "qps",
        &[("p0", 30_000), ("p1", 30_000)],
    )];
    let d = c.run();
    assert_eq!(d.desired_replicas, 6);
    assert_eq!(d.proposals[0].pods_counted, Some(2));
}

#[test]
fn pods_metric_average_value() {
    let mut c = case("{maxReplicas: 20, metrics: [{type: Pods, pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: '10'}}}]}", 2);
    c.controller.scale_up_limit_factor = 8.0; // as the upstream tests: isolate the calculator from the legacy limit
    c.obs = vec![per_pod(
        MetricSourceType::Pods,
        "qps",
        &[("p0", 30_000), ("p1", 20_000)],
    )];
    let d = c.run();
    assert_eq!(d.desired_replicas, 5);
    assert_eq!(d.proposals[0].raw_value.as_deref(), Some("25"));
    // Missing pod on a scale-down counts as the target.
    c.policy = spec("{maxReplicas: 20, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}, metrics: [{type: Pods, pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: '10'}}}]}");
    c.current = 4;
    c.pods = (0..4).map(|i| pod(&format!("p{i}"), 1000)).collect();
    c.obs = vec![per_pod(
        MetricSourceType::Pods,
        "qps",
        &[("p0", 1000), ("p1", 1000), ("p2", 1000)],
    )];
    // (1+1+1+10)/4 = 3.25 → 0.325 → ceil(1.3) = 2
    assert_eq!(c.desired(), 2);
}

#[test]
fn object_value_scales_by_ready_pods_and_from_zero_ignores_tolerance() {
    let policy = "{minReplicas: 0, maxReplicas: 20, metrics: [{type: Object, object: {describedObject: {apiVersion: v1, kind: Service, name: web}, metric: {name: rps}, target: {type: Value, value: '100'}}}]}";
    let mut c = case(policy, 3);
    c.pods[2].ready = Some(false);
    c.obs = vec![object("rps", 250_000)]; // ratio 2.5 × 2 ready pods = 5
    let d = c.run();
    assert_eq!(d.desired_replicas, 5);
    assert_eq!(d.proposals[0].metric, "Service metric rps");
    let mut z = case(policy, 0);
    z.pods.clear();
    z.obs = vec![object("rps", 100_000)]; // ratio exactly 1 at zero replicas: ceil(1) = 1
    assert_eq!(z.desired(), 1);
    z.obs = vec![object("rps", 0)];
    assert_eq!(z.desired(), 0);
}

#[test]
fn object_and_external_average_value_use_status_replicas() {
    let mut c = case("{maxReplicas: 50, metrics: [{type: External, external: {metric: {name: lag}, target: {type: AverageValue, averageValue: '100'}}}]}", 3);
    c.status = Some(4);
    c.controller.scale_up_limit_factor = 8.0; // as the upstream tests: isolate the calculator from the legacy limit
    c.obs = vec![external("lag", &[600_000, 400_000])]; // 1000 total / 100 per pod = 10
    let d = c.run();
    assert_eq!(d.desired_replicas, 10);
    assert_eq!(d.proposals[0].raw_value.as_deref(), Some("250")); // per status replica
    c.obs = vec![external("lag", &[420_000])]; // 420/(100×4) = 1.05: within tolerance → status replicas (4)
    assert_eq!(c.desired(), 4);
    let mut o = case("{maxReplicas: 50, metrics: [{type: Object, object: {describedObject: {kind: Queue, name: q}, metric: {name: depth}, target: {type: AverageValue, averageValue: '20'}}}]}", 3);
    o.controller.scale_up_limit_factor = 8.0;
    o.obs = vec![object("depth", 200_000)];
    assert_eq!(o.desired(), 10);
}

#[test]
fn external_value_sums_series() {
    let mut c = case("{maxReplicas: 50, metrics: [{type: External, external: {metric: {name: q}, target: {type: Value, value: '100'}}}]}", 2);
    c.controller.scale_up_limit_factor = 8.0; // as the upstream tests: isolate the calculator from the legacy limit
    c.obs = vec![external("q", &[150_000, 150_000])]; // 300/100 = 3 × 2 ready = 6
    assert_eq!(c.desired(), 6);
}

#[test]
fn huge_values_clamp_to_int32() {
    let mut c = case("{maxReplicas: 2147483647, metrics: [{type: External, external: {metric: {name: q}, target: {type: Value, value: 1m}}}]}", 2);
    c.obs = vec![external("q", &[i64::MAX, i64::MAX])];
    c.policy.behavior = Some(crate::policy::Behavior::default());
    let d = c.run();
    assert_eq!(d.proposals[0].replicas, Some(i32::MAX));
    let mut p = case("{maxReplicas: 100, metrics: [{type: External, external: {metric: {name: q}, target: {type: AverageValue, averageValue: 1m}}}]}", 2);
    p.obs = vec![external("q", &[i64::MAX])];
    assert_eq!(p.run().proposals[0].replicas, Some(i32::MAX));
}

// ---- Combining metrics -----------------------------------------------------

#[test]
fn max_over_metrics_wins() {
    let mut c = case("{maxReplicas: 50, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}, {type: External, external: {metric: {name: q}, target: {type: AverageValue, averageValue: '10'}}}]}", 2);
    c.controller.scale_up_limit_factor = 8.0; // as the upstream tests: isolate the calculator from the legacy limit
    c.obs = vec![cpu(&[500, 500]), external("q", &[70_000])];
    let d = c.run();
    assert_eq!(d.desired_replicas, 7);
    assert_eq!(
        d.rescale_reason.as_deref(),
        Some("external metric q above target")
    );
}

#[test]
fn invalid_metric_blocks_scale_down_but_not_scale_up() {
    let policy = "{maxReplicas: 50, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}, {type: External, external: {metric: {name: q}, target: {type: AverageValue, averageValue: '10'}}}]}";
    let mut c = case(policy, 4);
    c.obs = vec![cpu(&[1000, 1000, 1000, 1000])]; // External missing; CPU says 8
    let up = c.run();
    assert_eq!(up.desired_replicas, 8);
    assert!(up.error.is_none());
    assert!(up.proposals[1].error.is_some());
    assert_eq!(condition(&up, "ScalingActive").reason, "ValidMetricFound");
    c.obs = vec![cpu(&[100, 100, 100, 100])]; // CPU says 1: blocked
    let down = c.run();
    assert_eq!(down.desired_replicas, 4);
    assert!(down
        .error
        .as_deref()
        .unwrap()
        .starts_with("invalid metrics (1 invalid out of 2)"));
    assert_eq!(
        condition(&down, "ScalingActive").reason,
        "FailedGetExternalMetric"
    );
    assert_eq!(condition(&down, "ScalingActive").status, "False");
}

#[test]
fn unknown_metric_type_is_an_invalid_metric() {
    let mut c = case("{maxReplicas: 10, metrics: [{type: CheddarCheese}, {type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]}", 2);
    c.obs = vec![cpu(&[1000, 1000])];
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(
        d.proposals[0].condition_reason,
        Some("InvalidMetricSourceType")
    );
}

#[test]
fn empty_metrics_default_to_cpu_80_percent() {
    let mut c = case("{maxReplicas: 10}", 2);
    c.obs = vec![cpu(&[1200, 1200])]; // 120 % of 80 % → 1.5 → 3
    assert_eq!(c.desired(), 3);
}

// ---- Out-of-range current and scale-to-zero ---------------------------------

#[test]
fn current_outside_bounds_is_brought_back_without_metrics() {
    let mut c = case(CPU50, 30);
    let d = c.run();
    assert_eq!(d.desired_replicas, 20);
    assert_eq!(d.conditions.len(), 1);
    assert_eq!(d.conditions[0].reason, "SucceededRescale");
    assert_eq!(
        d.rescale_reason.as_deref(),
        Some("Current number of replicas above Spec.MaxReplicas")
    );
    c.policy.min_replicas = Some(35);
    c.policy.max_replicas = 40;
    assert_eq!(c.desired(), 35);
}

#[test]
fn zero_replicas_with_nonzero_min_disables_scaling() {
    let c = case(CPU50, 0);
    let d = c.run();
    assert_eq!(d.desired_replicas, 0);
    assert_eq!(condition(&d, "ScalingActive").reason, "ScalingDisabled");
    assert_eq!(condition(&d, "AbleToScale").reason, "SucceededGetScale");
    assert!(d.error.is_none());
}

// ---- Stabilization ----------------------------------------------------------

#[test]
fn first_decision_records_current_and_blocks_scale_down_for_the_window() {
    let mut c = case(CPU50, 4);
    c.history = History::default(); // never recorded: nil, as after an HPA restart
    c.obs = vec![cpu(&[100, 100, 100, 100])];
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(condition(&d, "AbleToScale").reason, "ScaleDownStabilized");
    assert_eq!(d.history.recommendations().len(), 2);
}

#[test]
fn legacy_stabilization_takes_the_max_of_five_minutes() {
    let mut c = case(CPU50, 4);
    c.history.recommendations = Some(vec![
        TimedReplicas {
            time: t(-600),
            replicas: 10,
        },
        TimedReplicas {
            time: t(-60),
            replicas: 3,
        },
    ]);
    c.obs = vec![cpu(&[100, 100, 100, 100])]; // raw 1
    let d = c.run();
    assert_eq!(d.desired_replicas, 3);
    // The old sample's slot is reused: the list does not grow.
    assert_eq!(d.history.recommendations().len(), 2);
    assert_eq!(
        d.history.recommendations()[0],
        TimedReplicas {
            time: t(0),
            replicas: 1
        }
    );
}

#[test]
fn legacy_scale_up_limit_is_max_of_twice_current_and_four() {
    let mut c = case("{maxReplicas: 100, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 10}}}]}", 1);
    c.obs = vec![cpu(&[1000])]; // raw 10
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(condition(&d, "ScalingLimited").reason, "ScaleUpLimit");
    c.current = 3;
    c.pods = (0..3).map(|i| pod(&format!("p{i}"), 1000)).collect();
    c.obs = vec![cpu(&[1000, 1000, 1000])]; // raw 30 → limit 6
    assert_eq!(c.desired(), 6);
    c.controller.scale_up_limit_factor = 8.0;
    assert_eq!(c.desired(), 24);
}

#[test]
fn behavior_stabilization_windows_in_both_directions() {
    let policy = "{maxReplicas: 100, behavior: {scaleUp: {stabilizationWindowSeconds: 300}, scaleDown: {stabilizationWindowSeconds: 300}}}";
    let mut c = case(policy, 1);
    c.raw = Some(7);
    c.history.recommendations = Some(vec![
        TimedReplicas {
            time: t(-60),
            replicas: 4,
        },
        TimedReplicas {
            time: t(-30),
            replicas: 5,
        },
    ]);
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(condition(&d, "AbleToScale").reason, "SucceededRescale");
    assert_eq!(
        d.steps
            .iter()
            .find(|s| s.step == "stabilization")
            .unwrap()
            .reason,
        "ScaleUpStabilized"
    );
    // Both directions blocked: current stays.
    c.current = 2;
    c.raw = Some(1);
    c.history.recommendations = Some(vec![
        TimedReplicas {
            time: t(-6000),
            replicas: 2,
        },
        TimedReplicas {
            time: t(-180),
            replicas: 3,
        },
    ]);
    let d = c.run();
    assert_eq!(d.desired_replicas, 2);
    assert_eq!(condition(&d, "AbleToScale").reason, "ScaleDownStabilized");
}

#[test]
fn behavior_scale_down_window_defaults_to_the_controller_flag() {
    let mut c = case("{maxReplicas: 100, behavior: {}}", 5);
    c.raw = Some(2);
    c.history.recommendations = Some(vec![TimedReplicas {
        time: t(-200),
        replicas: 5,
    }]);
    assert_eq!(c.desired(), 5);
    c.controller.downscale_stabilization_window = Duration::seconds(100);
    assert_eq!(c.desired(), 2);
}

#[test]
fn recommendations_exactly_at_the_cutoff_do_not_count() {
    let mut c = case(
        "{maxReplicas: 100, behavior: {scaleDown: {stabilizationWindowSeconds: 60}}}",
        5,
    );
    c.raw = Some(2);
    c.history.recommendations = Some(vec![TimedReplicas {
        time: t(-60),
        replicas: 5,
    }]);
    let d = c.run();
    assert_eq!(d.desired_replicas, 2);
    // ...and are not old enough to be reused either.
    assert_eq!(d.history.recommendations().len(), 2);
}

// ---- Rate limits --------------------------------------------------------------

#[test]
fn default_scale_up_policies_pick_the_larger_of_4_pods_and_100_percent() {
    let mut c = case("{maxReplicas: 100, behavior: {}}", 10);
    c.raw = Some(50);
    let d = c.run();
    assert_eq!(d.desired_replicas, 20);
    assert_eq!(condition(&d, "ScalingLimited").reason, "ScaleUpLimit");
    c.current = 1;
    assert_eq!(c.desired(), 5);
}

#[test]
fn percent_policies_round_up_when_scaling_up_and_truncate_when_scaling_down() {
    let mut c = case("{maxReplicas: 100, behavior: {scaleUp: {policies: [{type: Percent, value: 1, periodSeconds: 60}]}}}", 3);
    c.raw = Some(10);
    assert_eq!(c.desired(), 4);
    let mut d = case("{maxReplicas: 100, behavior: {scaleDown: {stabilizationWindowSeconds: 0, policies: [{type: Percent, value: 50, periodSeconds: 60}]}}}", 5);
    d.raw = Some(1);
    assert_eq!(d.desired(), 2); // int(5 × 0.5) = 2
}

#[test]
fn period_start_accounts_for_recent_scale_events() {
    let mut c = case("{maxReplicas: 100, behavior: {scaleDown: {stabilizationWindowSeconds: 0, policies: [{type: Percent, value: 50, periodSeconds: 180}]}}}", 10);
    c.raw = Some(1);
    c.history.scale_up_events = vec![TimedReplicas {
        time: t(-100),
        replicas: 2,
    }];
    c.history.scale_down_events = vec![TimedReplicas {
        time: t(-100),
        replicas: 4,
    }];
    // period start = 10 − 2 + 4 = 12 → int(12 × 0.5) = 6
    let d = c.run();
    assert_eq!(d.desired_replicas, 6);
    assert_eq!(condition(&d, "ScalingLimited").reason, "ScaleDownLimit");
    // Events outside the period do not count.
    c.history.scale_down_events[0].time = t(-181);
    c.history.scale_up_events.clear();
    assert_eq!(c.desired(), 5);
}

#[test]
fn a_limit_below_current_never_forces_a_scale_in_the_other_direction() {
    let mut c = case("{maxReplicas: 100, behavior: {scaleUp: {policies: [{type: Pods, value: 5, periodSeconds: 120}]}}}", 100);
    c.raw = Some(120);
    c.history.scale_up_events = vec![
        TimedReplicas {
            time: t(-10),
            replicas: 1,
        },
        TimedReplicas {
            time: t(-20),
            replicas: 5,
        },
        TimedReplicas {
            time: t(-30),
            replicas: 9,
        },
    ];
    // period start 85 + 5 = 90 < current: the limit becomes current.
    let d = c.run();
    assert_eq!(d.desired_replicas, 100);
    assert_eq!(condition(&d, "ScalingLimited").reason, "TooManyReplicas");
}

#[test]
fn select_policy_min_and_disabled() {
    let mut c = case("{maxReplicas: 100, behavior: {scaleUp: {selectPolicy: Min, policies: [{type: Pods, value: 2, periodSeconds: 15}, {type: Percent, value: 50, periodSeconds: 15}]}}}", 1);
    c.raw = Some(10);
    assert_eq!(c.desired(), 2); // min(1+2, ceil(1.5)) = 2
    let mut d = case("{maxReplicas: 100, behavior: {scaleDown: {selectPolicy: Min, stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 2, periodSeconds: 15}, {type: Percent, value: 50, periodSeconds: 15}]}}}", 5);
    d.raw = Some(1);
    assert_eq!(d.desired(), 3); // max(5−2, int(2.5)) = 3
    let mut off = case(
        "{maxReplicas: 100, behavior: {scaleDown: {selectPolicy: Disabled}}}",
        5,
    );
    off.raw = Some(1);
    off.history.recommendations = Some(vec![]);
    let r = off.run();
    assert_eq!(r.desired_replicas, 5);
}

#[test]
fn bounds_apply_after_rate_limits() {
    let mut c = case(
        "{minReplicas: 3, maxReplicas: 6, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}}",
        5,
    );
    c.raw = Some(50);
    let d = c.run();
    assert_eq!(d.desired_replicas, 6);
    assert_eq!(condition(&d, "ScalingLimited").reason, "TooManyReplicas");
    assert_eq!(d.deciding_step().unwrap().step, "bounds");
    c.raw = Some(1);
    let d = c.run();
    assert_eq!(d.desired_replicas, 3);
    assert_eq!(condition(&d, "ScalingLimited").reason, "TooFewReplicas");
}

#[test]
fn scale_events_are_recorded_only_with_behavior() {
    let mut c = case("{maxReplicas: 100, behavior: {}}", 2);
    c.raw = Some(4);
    let d = c.run();
    assert_eq!(
        d.history.scale_up_events,
        vec![TimedReplicas {
            time: t(0),
            replicas: 2
        }]
    );
    let mut legacy = case("{maxReplicas: 100}", 2);
    legacy.raw = Some(4);
    assert!(legacy.run().history.scale_up_events.is_empty());
}

#[test]
fn every_step_reports_and_the_deciding_step_is_named() {
    let mut c = case("{maxReplicas: 100, behavior: {}}", 10);
    c.raw = Some(50);
    let d = c.run();
    let names: Vec<&str> = d.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        names,
        [
            "metrics",
            "tolerance",
            "stabilization",
            "rateLimit",
            "bounds"
        ]
    );
    assert_eq!(d.deciding_step().unwrap().step, "rateLimit");
    assert!(d.to_text().contains("<- decided"));
}

// ---- Forecasts ------------------------------------------------------------

fn forecast_case(gated: bool, relax: f64) -> Decision {
    let mut c = case("{maxReplicas: 50, metrics: [{type: External, external: {metric: {name: rps}, target: {type: AverageValue, averageValue: '100'}}}]}", 10);
    c.obs = vec![external("rps", &[1_000_000])]; // 1000: exactly 10 replicas' worth
    c.forecast = Some(Forecast {
        observations: vec![external("rps", &[1_800_000])], // the peak ahead: 1800
        mode: crate::policy::ForecastMode::Max,
        label: "forecast peak 1800 within 300 s (m.json)".into(),
        gated,
        relax_targets_percent: relax,
        horizon_s: 300,
    });
    c.run()
}

fn forecast_step(d: &Decision) -> &Step {
    d.steps
        .iter()
        .find(|s| s.step == "forecast")
        .expect("a forecast step")
}

#[test]
fn a_trusted_forecast_sizes_ahead_and_relaxes_the_targets() {
    let plain = forecast_case(false, 0.0);
    let f = forecast_step(&plain);
    assert_eq!((f.replicas, f.reason), (18, "ForecastAhead"));
    assert!(
        f.message.contains("(m.json) needs 18 (reactive 10)"),
        "{}",
        f.message
    );

    // Targets raised 20 %: 100 → 120 per replica, for the forecast and the reactive proposal alike.
    let relaxed = forecast_case(false, 20.0);
    assert_eq!(relaxed.proposals[0].replicas, Some(9), "1000 / 120 → 9");
    let f = forecast_step(&relaxed);
    assert_eq!(
        (f.replicas, f.reason),
        (15, "ForecastAhead"),
        "1800 / 120 → 15"
    );
    assert!(f.message.contains("targets raised 20%"), "{}", f.message);
    assert_eq!(relaxed.desired_replicas, 15);
}

#[test]
fn a_gated_forecast_leaves_the_policy_s_own_targets() {
    let d = forecast_case(true, 20.0);
    assert_eq!(d.proposals[0].replicas, Some(10), "target 100, not 120");
    let f = forecast_step(&d);
    assert_eq!((f.replicas, f.reason), (10, "ForecastGated"));
    assert_eq!(d.desired_replicas, 10);
}

/// Found by the fuzz harness (`tests/fuzz.rs`, snapshots): `now` near
/// chrono's earliest time (`-262143-01-01T00:00:00Z` in a snapshot) made the
/// start of every window (`now - window`) overflow, and `decide` panicked.
#[test]
fn a_now_at_the_ends_of_time_decides_without_panicking() {
    let behaviors = "{maxReplicas: 20, behavior: {scaleUp: {policies: [{type: Pods, value: 1, periodSeconds: 60}]}}, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]}";
    for policy in [CPU50, behaviors] {
        for now in [Time::MIN_UTC, Time::MAX_UTC] {
            let c = case(policy, 3);
            let events = vec![TimedReplicas {
                time: now,
                replicas: 1,
            }];
            let history = History {
                recommendations: Some(events.clone()),
                scale_up_events: events.clone(),
                scale_down_events: events,
                ..History::default()
            };
            let input = DecisionInput {
                now,
                observations: vec![cpu(&[900, 900, 900])],
                ..c.input()
            };
            let d = decide(&input, history);
            assert!(d.desired_replicas >= 3, "{policy} at {now}: {d:?}");
        }
    }
}

const QUEUE_TO_ZERO: &str = "{minReplicas: 0, maxReplicas: 10, activation: {threshold: '5', cooldownSeconds: 300}, metrics: [{type: External, external: {metric: {name: queue}, target: {type: AverageValue, averageValue: '10'}}}]}";

fn at_zero(queue: i64) -> Case {
    let mut c = case(QUEUE_TO_ZERO, 0);
    c.obs = vec![external("queue", &[queue])];
    c
}

#[test]
fn activation_wakes_from_zero_above_the_threshold_only() {
    let d = at_zero(5_000).run();
    assert_eq!(d.desired_replicas, 0, "5 is not above the threshold 5");
    assert_eq!(d.steps.last().unwrap().reason, "Inactive");
    let d = at_zero(6_000).run();
    assert_eq!(d.desired_replicas, 1);
    assert_eq!(d.steps.last().unwrap().reason, "Activated");
    assert_eq!(d.history.last_active, Some(t(0)));
    // Well above: the chain's own count (rate-limited from zero) stands.
    assert_eq!(at_zero(35_000).desired(), 4);
}

#[test]
fn activation_goes_to_zero_only_after_the_cooldown() {
    let mut c = case(QUEUE_TO_ZERO, 2);
    c.obs = vec![external("queue", &[0])];
    c.history.last_active = Some(t(-299));
    let d = c.run();
    assert_eq!(d.desired_replicas, 1, "cooling down: at least one replica");
    assert_eq!(d.steps.last().unwrap().reason, "CoolingDown");
    c.history.last_active = Some(t(-300));
    let d = c.run();
    assert_eq!(d.desired_replicas, 0);
    assert_eq!(d.steps.last().unwrap().reason, "CooledDown");
    // No recorded activity (a fresh controller): the cooldown starts now.
    c.history.last_active = None;
    let d = c.run();
    assert_eq!(d.desired_replicas, 1);
    assert_eq!(d.history.last_active, Some(t(0)));
    // Active and scaled: the chain decides, and the time is recorded.
    c.obs = vec![external("queue", &[45_000])];
    c.history.last_active = Some(t(-1000));
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(d.steps.last().unwrap().reason, "Active");
    assert_eq!(d.history.last_active, Some(t(0)));
}

#[test]
fn without_activation_a_zero_minimum_keeps_the_hpa_arithmetic() {
    let mut c = case(
        &QUEUE_TO_ZERO.replace("activation: {threshold: '5', cooldownSeconds: 300}, ", ""),
        0,
    );
    c.obs = vec![external("queue", &[1])];
    let d = c.run();
    assert!(d.steps.iter().all(|s| s.step != "activation"));
    assert_eq!(d.history.last_active, None);
}

const BURSTY: &str = "{minReplicas: 1, maxReplicas: 50, burst: {window: 6s, threshold: 2, stableWindow: 60s}, metrics: [{type: External, external: {metric: {name: rps}, target: {type: AverageValue, averageValue: '10'}}, stream: {window: 60s, aggregate: rate}}], behavior: {scaleUp: {policies: [{type: Pods, value: 1, periodSeconds: 60}]}, scaleDown: {stabilizationWindowSeconds: 0}}}";

fn bursty(stable: i64, short: i64) -> Case {
    let mut c = case(BURSTY, 2);
    c.obs = vec![external("rps", &[stable])];
    c.burst = vec![external("rps", &[short])];
    c
}

#[test]
fn a_burst_scales_up_at_once_past_the_rate_limit() {
    // The stable window asks for 3 (rate-limited to 2 + 1); the short one for 6 ≥ 2 × 2 ready.
    let calm = bursty(30_000, 30_000).run();
    assert_eq!(calm.desired_replicas, 3);
    assert!(calm.steps.iter().all(|s| s.step != "burst"));
    let d = bursty(30_000, 60_000).run();
    assert_eq!(d.desired_replicas, 6);
    let step = d.steps.iter().find(|s| s.step == "burst").unwrap();
    assert_eq!(step.reason, "BurstScaleUp");
    assert_eq!(d.history.last_burst, Some(t(0)));
    // The threshold is on the count: 31 asks for 4 = 2 × 2 and bursts; 29 asks for 3 and does not.
    assert_eq!(bursty(30_000, 31_000).run().history.last_burst, Some(t(0)));
    assert_eq!(bursty(30_000, 29_000).run().history.last_burst, None);
}

#[test]
fn the_burst_threshold_multiplies_the_ready_pods_only() {
    // 6 pods: 4 ready, 1 running but not ready, 1 being deleted. The
    // threshold is 2 × 4 ready = 8 (not 2 + 4, not 2 × 5 or 2 × 6).
    let mut c = case(BURSTY, 6);
    c.pods[4].ready = Some(false);
    c.pods[5].deleted = true;
    c.obs = vec![external("rps", &[60_000])];
    c.burst = vec![external("rps", &[70_000])]; // asks for 7
    assert_eq!(c.run().history.last_burst, None);
    c.burst = vec![external("rps", &[80_000])]; // asks for 8
    let d = c.run();
    assert_eq!(d.history.last_burst, Some(t(0)));
    assert_eq!(d.desired_replicas, 8);
}

#[test]
fn no_scale_down_until_the_burst_is_over_for_the_stable_window() {
    let mut c = bursty(5_000, 5_000);
    c.history.last_burst = Some(t(-59));
    let d = c.run();
    assert_eq!(d.desired_replicas, 2, "held");
    assert_eq!(d.steps.last().unwrap().reason, "BurstHold");
    c.history.last_burst = Some(t(-60));
    assert_eq!(c.run().desired_replicas, 1, "the burst is over: down");
}

/// 10 replicas, a recommendation of 10 a minute ago, the load now worth 5 and
/// the forecast's peak over the horizon worth 7.
fn scale_down_case(mode: crate::policy::ForecastMode, gated: bool, horizon_s: i64) -> Decision {
    let mut c = case("{maxReplicas: 50, metrics: [{type: External, external: {metric: {name: rps}, target: {type: AverageValue, averageValue: '100'}}}], behavior: {scaleDown: {stabilizationWindowSeconds: 300}}}", 10);
    c.obs = vec![external("rps", &[500_000])];
    c.history.recommendations = Some(vec![TimedReplicas {
        time: t(-60),
        replicas: 10,
    }]);
    c.forecast = Some(Forecast {
        observations: vec![external("rps", &[700_000])],
        mode,
        label: "forecast peak 700 within 300 s (m.json)".into(),
        gated,
        relax_targets_percent: 0.0,
        horizon_s,
    });
    c.run()
}

#[test]
fn a_trusted_forecast_in_both_mode_scales_down_without_holding_the_window() {
    use crate::policy::ForecastMode::{Both, Max};
    let held = scale_down_case(Max, false, 300);
    assert_eq!(
        held.desired_replicas, 10,
        "max mode holds the window's peak"
    );
    let d = scale_down_case(Both, false, 300);
    assert_eq!(
        d.desired_replicas, 7,
        "down to what the forecast's peak needs, not the load's 5"
    );
    assert!(
        d.steps.iter().any(|s| s.reason == "ForecastScaleDown"),
        "{:?}",
        d.steps
    );
    assert_eq!(
        scale_down_case(Both, true, 300).desired_replicas,
        10,
        "gated: the window holds"
    );
    assert_eq!(
        scale_down_case(Both, false, 120).desired_replicas,
        10,
        "a horizon shorter than the window does not cover it"
    );
}

#[test]
fn a_both_mode_forecast_drops_the_window_only_when_it_made_a_proposal_and_the_load_falls() {
    use crate::policy::ForecastMode::Both;
    // The forecast has no value for the metric: ForecastInvalid, the window holds.
    let mut c = case("{maxReplicas: 50, metrics: [{type: External, external: {metric: {name: rps}, target: {type: AverageValue, averageValue: '100'}}}], behavior: {scaleDown: {stabilizationWindowSeconds: 300}}}", 10);
    c.obs = vec![external("rps", &[500_000])];
    c.history.recommendations = Some(vec![TimedReplicas {
        time: t(-60),
        replicas: 10,
    }]);
    c.forecast = Some(Forecast {
        observations: vec![external("other", &[700_000])],
        mode: Both,
        label: "forecast (m.json)".into(),
        gated: false,
        relax_targets_percent: 0.0,
        horizon_s: 300,
    });
    let d = c.run();
    assert_eq!(forecast_step(&d).reason, "ForecastInvalid");
    assert_eq!(
        d.desired_replicas, 10,
        "no forecast proposal: the window holds"
    );
    assert!(d.steps.iter().all(|s| s.reason != "ForecastScaleDown"));
    // Load rising: a trusted forecast scales up as `max` does, and says nothing of the window.
    c.obs = vec![external("rps", &[1_500_000])];
    c.forecast.as_mut().unwrap().observations = vec![external("rps", &[1_800_000])];
    let d = c.run();
    assert_eq!(d.desired_replicas, 18);
    assert!(
        d.steps.iter().all(|s| s.reason != "ForecastScaleDown"),
        "{:?}",
        d.steps
    );
}

#[test]
fn the_rate_limit_step_names_the_policies_that_limit_it() {
    let up = "{maxReplicas: 100, behavior: {scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 2, periodSeconds: 60}, {type: Percent, value: 50, periodSeconds: 30}]}}}";
    let mut c = case(up, 10);
    c.raw = Some(40);
    let d = c.run();
    let step = d.steps.iter().find(|s| s.step == "rateLimit").unwrap();
    assert_eq!((step.replicas, step.reason), (15, "ScaleUpLimit"));
    assert_eq!(
        step.message,
        "scale-up policies allow at most 15 replicas now (select Max of 2 pods/60s, 50%/30s)"
    );
    let down = "{maxReplicas: 100, behavior: {scaleDown: {stabilizationWindowSeconds: 0, selectPolicy: Min, policies: [{type: Pods, value: 3, periodSeconds: 60}, {type: Percent, value: 10, periodSeconds: 60}]}}}";
    let mut c = case(down, 10);
    c.raw = Some(2);
    let d = c.run();
    let step = d.steps.iter().find(|s| s.step == "rateLimit").unwrap();
    assert_eq!((step.replicas, step.reason), (9, "ScaleDownLimit"));
    assert_eq!(
        step.message,
        "scale-down policies allow at least 9 replicas now (select Min of 3 pods/60s, 10%/60s)"
    );
}

#[test]
fn scale_events_stay_for_the_longest_policy_period_and_then_their_slot_is_reused() {
    let policy = "{maxReplicas: 100, behavior: {scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 10, periodSeconds: 60}, {type: Pods, value: 20, periodSeconds: 15}]}}}";
    let mut c = case(policy, 2);
    c.raw = Some(4);
    let old = |s: i64| TimedReplicas {
        time: t(s),
        replicas: 1,
    };
    // Exactly 60 s ago is still within the longest period (60 s, not 15 s).
    c.history.scale_up_events = vec![old(-60), old(-50)];
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    let now = TimedReplicas {
        time: t(0),
        replicas: 2,
    };
    assert_eq!(d.history.scale_up_events, vec![old(-60), old(-50), now]);
    // Older than the period: its slot takes the new event.
    c.history.scale_up_events = vec![old(-61), old(-50)];
    assert_eq!(c.run().history.scale_up_events, vec![now, old(-50)]);
}

#[test]
fn activation_reads_object_metrics() {
    let policy = "{minReplicas: 0, maxReplicas: 10, activation: {threshold: '5', cooldownSeconds: 300}, metrics: [{type: Object, object: {describedObject: {kind: Service, name: q}, metric: {name: depth}, target: {type: Value, value: '10'}}}]}";
    let mut c = case(policy, 0);
    c.obs = vec![object("depth", 6_000)];
    let d = c.run();
    assert_eq!(
        d.desired_replicas, 1,
        "an Object value above the threshold wakes it"
    );
    assert_eq!(d.steps.last().unwrap().reason, "Activated");
    c.obs = vec![object("depth", 5_000)];
    assert_eq!(c.desired(), 0);
}
