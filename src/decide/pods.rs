//! Which pods count, and how: the HPA's `groupPods` (ignored, unready, missing
//! and ready pods, with the CPU-only readiness rules), the ready-pod count of
//! Object/External metrics, and the per-pod requests of utilization targets.

use std::collections::{BTreeMap, BTreeSet};

use super::error::MetricError;
use super::input::{ControllerConfig, Pod, PodPhase, Time};

/// One pod's metric value as the replica calculator sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub value: i64,
    pub timestamp: Time,
    pub window: chrono::Duration,
}

/// Metric values by pod name (may include pods that are not in the pod list).
pub type Samples<'a> = BTreeMap<&'a str, Sample>;

/// The pods sorted into the HPA's groups.
#[derive(Debug, Default, PartialEq)]
pub struct PodGroups<'a> {
    pub ready_count: usize,
    pub unready: BTreeSet<&'a str>,
    pub missing: BTreeSet<&'a str>,
    pub ignored: BTreeSet<&'a str>,
}

/// `groupPods`: failed and deleted pods are ignored, pending pods are unready,
/// pods without a sample are missing; for CPU only, a pod is also unready while
/// it initializes (Ready false, or no full metric window since it became ready)
/// or when it is not ready and never was since start-up.
pub fn group_pods<'a>(
    pods: &'a [Pod],
    samples: &Samples,
    resource: Option<&str>,
    cfg: &ControllerConfig,
    now: Time,
) -> PodGroups<'a> {
    let mut groups = PodGroups::default();
    for pod in pods {
        let name = pod.name.as_str();
        if pod.deleted || pod.phase == PodPhase::Failed {
            groups.ignored.insert(name);
            continue;
        }
        if pod.phase == PodPhase::Pending {
            groups.unready.insert(name);
            continue;
        }
        let Some(sample) = samples.get(name) else {
            groups.missing.insert(name);
            continue;
        };
        if resource == Some("cpu") && cpu_unready(pod, sample, cfg, now) {
            groups.unready.insert(name);
            continue;
        }
        groups.ready_count += 1;
    }
    groups
}

fn cpu_unready(pod: &Pod, sample: &Sample, cfg: &ControllerConfig, now: Time) -> bool {
    let (Some(ready), Some(start)) = (pod.ready, pod.start_time) else {
        return true;
    };
    let transition = pod.ready_transition_time;
    if add(start, cfg.cpu_initialization_period) > now {
        !ready || sample.timestamp < add(transition, sample.window)
    } else {
        !ready && add(start, cfg.initial_readiness_delay) > transition
    }
}

/// `t + d`, saturating at the ends of the representable range.
fn add(t: Time, d: chrono::Duration) -> Time {
    t.checked_add_signed(d)
        .unwrap_or(if d > chrono::Duration::zero() {
            chrono::DateTime::<chrono::Utc>::MAX_UTC
        } else {
            chrono::DateTime::<chrono::Utc>::MIN_UTC
        })
}

/// `getReadyPodsCount`: Running pods whose Ready condition is True.
pub fn ready_pods_count(pods: &[Pod]) -> Result<i64, MetricError> {
    if pods.is_empty() {
        return Err(MetricError::NoPods);
    }
    Ok(pods
        .iter()
        .filter(|p| p.phase == PodPhase::Running && p.is_ready())
        .count() as i64)
}

/// `calculateRequests`: each pod's request of `resource` in milli-units: the
/// pod-level request when set (and no container is named), else the sum over
/// containers, or the named container's.
pub fn pod_requests<'a>(
    pods: &'a [Pod],
    container: Option<&str>,
    resource: &str,
) -> Result<BTreeMap<&'a str, i64>, MetricError> {
    let mut requests = BTreeMap::new();
    for pod in pods {
        let request = match (container, pod.pod_requests.get(resource)) {
            (None, Some(&pod_level)) => pod_level,
            _ => container_requests(pod, container, resource)?,
        };
        requests.insert(pod.name.as_str(), request);
    }
    Ok(requests)
}

fn container_requests(
    pod: &Pod,
    container: Option<&str>,
    resource: &str,
) -> Result<i64, MetricError> {
    let mut total: i64 = 0;
    for c in &pod.containers {
        if container.is_none() || container == Some(c.name.as_str()) {
            let Some(&request) = c.requests.get(resource) else {
                return Err(MetricError::MissingRequest {
                    resource: resource.to_string(),
                    container: c.name.clone(),
                    pod: pod.name.clone(),
                });
            };
            total = total.saturating_add(request);
        }
        if container == Some(c.name.as_str()) {
            return Ok(total);
        }
    }
    if let Some(name) = container {
        return Err(MetricError::ContainerNotFound {
            container: name.to_string(),
            pod: pod.name.clone(),
        });
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::input::Container;
    use chrono::{Duration, TimeZone, Utc};

    fn t(s: i64) -> Time {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn pod(name: &str) -> Pod {
        Pod {
            name: name.into(),
            phase: PodPhase::Running,
            ready: Some(true),
            ready_transition_time: t(-3600),
            deleted: false,
            start_time: Some(t(-3600)),
            containers: vec![Container {
                name: "app".into(),
                requests: [("cpu".to_string(), 1000)].into(),
            }],
            pod_requests: BTreeMap::new(),
        }
    }

    fn sample(ts: Time) -> Sample {
        Sample {
            value: 500,
            timestamp: ts,
            window: Duration::seconds(60),
        }
    }

    fn samples<'a>(names: &[&'a str], ts: Time) -> Samples<'a> {
        names.iter().map(|n| (*n, sample(ts))).collect()
    }

    #[test]
    fn failed_and_deleted_are_ignored_pending_unready_unsampled_missing() {
        let mut failed = pod("failed");
        failed.phase = PodPhase::Failed;
        let mut deleted = pod("deleted");
        deleted.deleted = true;
        let mut pending = pod("pending");
        pending.phase = PodPhase::Pending;
        let pods = vec![pod("a"), failed, deleted, pending, pod("nosample")];
        let s = samples(&["a", "failed", "deleted", "pending"], t(0));
        let g = group_pods(&pods, &s, Some("cpu"), &ControllerConfig::default(), t(0));
        assert_eq!(g.ready_count, 1);
        assert_eq!(g.ignored, ["deleted", "failed"].into());
        assert_eq!(g.unready, ["pending"].into());
        assert_eq!(g.missing, ["nosample"].into());
    }

    #[test]
    fn cpu_readiness_rules_inside_the_initialization_period() {
        let cfg = ControllerConfig::default();
        let now = t(0);
        // Started 60 s ago, ready since 50 s ago; the sample is 5 s old with a 60 s window:
        // it was taken before a full window elapsed since readiness: unready.
        let mut young = pod("young");
        young.start_time = Some(t(-60));
        young.ready_transition_time = t(-50);
        let s = samples(&["young"], t(-5));
        assert_eq!(
            group_pods(&[young.clone()], &s, Some("cpu"), &cfg, now)
                .unready
                .len(),
            1
        );
        // The same pod for a memory metric: readiness is not considered.
        assert_eq!(
            group_pods(&[young.clone()], &s, Some("memory"), &cfg, now).ready_count,
            1
        );
        // Ready for longer than the window before the sample: ready.
        young.ready_transition_time = t(-120);
        young.start_time = Some(t(-130));
        assert_eq!(
            group_pods(&[young.clone()], &s, Some("cpu"), &cfg, now).ready_count,
            1
        );
        // No Ready condition at all: unready.
        young.ready = None;
        assert_eq!(
            group_pods(&[young], &s, Some("cpu"), &cfg, now)
                .unready
                .len(),
            1
        );
    }

    #[test]
    fn cpu_readiness_rules_after_the_initialization_period() {
        let cfg = ControllerConfig::default();
        let now = t(0);
        let s = samples(&["old"], t(0));
        // Unready, and its last transition came within 30 s of start: never became ready.
        let mut old = pod("old");
        old.start_time = Some(t(-1000));
        old.ready = Some(false);
        old.ready_transition_time = t(-990);
        assert_eq!(
            group_pods(&[old.clone()], &s, Some("cpu"), &cfg, now)
                .unready
                .len(),
            1
        );
        // Unready, but it was ready once (transition long after start): its sample counts.
        old.ready_transition_time = t(-100);
        assert_eq!(
            group_pods(&[old.clone()], &s, Some("cpu"), &cfg, now).ready_count,
            1
        );
        // Zero time as start: handled like any other instant.
        old.start_time = Some(crate::decide::input::zero_time());
        old.ready = Some(true);
        assert_eq!(
            group_pods(&[old], &s, Some("cpu"), &cfg, now).ready_count,
            1
        );
    }

    #[test]
    fn cpu_readiness_boundaries_are_those_of_the_hpa() {
        // `groupPods` compares with `After`/`Before`: an instant exactly on a
        // boundary is on the later side of each rule.
        let cfg = ControllerConfig::default();
        let unready = |p: &Pod, sample_at: i64| {
            let s = samples(&["p"], t(sample_at));
            group_pods(std::slice::from_ref(p), &s, Some("cpu"), &cfg, t(0))
                .unready
                .len()
        };
        // Started exactly one initialization period (300 s) ago: past it, so
        // an unready pod that was ready once counts; a second later, it does not.
        let mut p = pod("p");
        p.ready = Some(false);
        p.ready_transition_time = t(-200);
        p.start_time = Some(t(-300));
        assert_eq!(unready(&p, 0), 0);
        p.start_time = Some(t(-299));
        assert_eq!(unready(&p, 0), 1);
        // Initializing and ready: a sample taken exactly one window (60 s)
        // after readiness counts; one a second earlier does not.
        p.ready = Some(true);
        p.start_time = Some(t(-100));
        p.ready_transition_time = t(-90);
        assert_eq!(unready(&p, -30), 0);
        assert_eq!(unready(&p, -31), 1);
        // Past initialization and unready: it never became ready only when its
        // last transition came *before* the 30 s readiness delay ended.
        p.ready = Some(false);
        p.start_time = Some(t(-1000));
        p.ready_transition_time = t(-970);
        assert_eq!(unready(&p, 0), 0);
        p.ready_transition_time = t(-971);
        assert_eq!(unready(&p, 0), 1);
    }

    #[test]
    fn adding_a_duration_saturates_at_the_ends_of_time() {
        let max = chrono::DateTime::<Utc>::MAX_UTC;
        let min = chrono::DateTime::<Utc>::MIN_UTC;
        assert_eq!(add(t(0), Duration::seconds(5)), t(5));
        assert_eq!(add(t(0), Duration::MAX), max);
        assert_eq!(add(t(0), Duration::MIN), min);
        assert_eq!(add(max, Duration::seconds(1)), max);
        assert_eq!(add(min, Duration::seconds(-1)), min);
        // A pod started at the end of time with a long initialization period
        // is still initializing; one started at its beginning is long past it.
        let cfg = ControllerConfig::default();
        let s = samples(&["p"], t(0));
        let mut p = pod("p");
        p.ready = Some(false);
        p.start_time = Some(max);
        assert_eq!(
            group_pods(&[p.clone()], &s, Some("cpu"), &cfg, t(0))
                .unready
                .len(),
            1
        );
        p.start_time = Some(min);
        p.ready_transition_time = t(-100);
        assert_eq!(group_pods(&[p], &s, Some("cpu"), &cfg, t(0)).ready_count, 1);
    }

    #[test]
    fn requests_sum_containers_or_pick_one_or_use_pod_level() {
        let mut p = pod("p");
        p.containers.push(Container {
            name: "sidecar".into(),
            requests: [("cpu".to_string(), 250)].into(),
        });
        assert_eq!(pod_requests(&[p.clone()], None, "cpu").unwrap()["p"], 1250);
        assert_eq!(
            pod_requests(&[p.clone()], Some("sidecar"), "cpu").unwrap()["p"],
            250
        );
        assert!(pod_requests(&[p.clone()], Some("nope"), "cpu")
            .unwrap_err()
            .to_string()
            .contains("container nope not found"));
        assert!(pod_requests(&[p.clone()], None, "memory")
            .unwrap_err()
            .to_string()
            .contains("missing request for memory in container app of Pod p"));
        p.pod_requests.insert("cpu".into(), 2000);
        assert_eq!(pod_requests(&[p.clone()], None, "cpu").unwrap()["p"], 2000);
        assert_eq!(pod_requests(&[p], Some("app"), "cpu").unwrap()["p"], 1000);
    }

    #[test]
    fn ready_count_needs_running_and_ready() {
        let mut unready = pod("u");
        unready.ready = Some(false);
        let mut succeeded = pod("s");
        succeeded.phase = PodPhase::Succeeded;
        assert_eq!(ready_pods_count(&[pod("a"), unready, succeeded]), Ok(1));
        assert!(ready_pods_count(&[]).is_err());
    }
}
