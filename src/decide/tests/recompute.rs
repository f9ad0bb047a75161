//! The per-pod calculation once pods without metrics or not ready are filled
//! in, at its edges: a usage exactly at the target fills in nothing, and a
//! recomputed count that points against the ratio keeps the current count.
//! (Written against cargo-mutants survivors: each test fails with the mutant
//! in.)

use super::*;

#[test]
fn a_usage_exactly_at_target_fills_in_no_missing_pod() {
    // `calcPlainMetricReplicas`: missing pods count at the target below it,
    // at zero above it, and not at all exactly on it.
    let mut c = case("{maxReplicas: 20, metrics: [{type: Pods, pods: {metric: {name: rps}, target: {type: AverageValue, averageValue: '100'}}}]}", 4);
    let at = 100_000; // milli-units: exactly the 100 target
    c.obs = vec![per_pod(
        MetricSourceType::Pods,
        "rps",
        &[("p0", at), ("p1", at), ("p2", at)],
    )];
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(d.proposals[0].adjusted_ratio, Some(1.0));
    assert_eq!(d.proposals[0].pods_counted, Some(3), "{:?}", d.proposals);
}

/// 10 replicas: 6 failed (ignored), 3 at 75 % of a 50 % target, 1 without
/// a sample: 4 pods counted.
pub(super) fn four_of_ten_counted() -> Case {
    let mut c = case(CPU50, 10);
    for p in &mut c.pods[4..] {
        p.phase = PodPhase::Failed;
    }
    c.obs = vec![cpu(&[750, 750, 750])];
    c
}

#[test]
fn a_scale_up_whose_recomputed_count_is_below_current_keeps_current() {
    // Ratio 1.5; the missing pod at zero gives 56 % → 1.12, and
    // ceil(1.12 × 4 pods) = 5 would scale *down* on a usage above target:
    // the HPA keeps the current count.
    let d = four_of_ten_counted().run();
    assert_eq!(d.proposals[0].replicas, Some(10), "{:?}", d.proposals);
    assert_eq!(d.proposals[0].pods_counted, Some(4));
    assert_eq!(d.desired_replicas, 10);
}
