//! How the metrics' proposals combine (`computeReplicasForMetrics`): the
//! largest wins whatever the order, every metric invalid is an invalid
//! decision, and an invalid metric blocks only a count below the current one.
//! (Written against cargo-mutants survivors in `proposals.rs`.)

use super::*;

const TWO: &str = "{maxReplicas: 50, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}, metrics: [{type: External, external: {metric: {name: a}, target: {type: AverageValue, averageValue: '100'}}}, {type: External, external: {metric: {name: b}, target: {type: AverageValue, averageValue: '100'}}}]}";

#[test]
fn the_largest_proposal_wins_in_either_order() {
    for (a, b) in [(800, 300), (300, 800)] {
        let mut c = case(TWO, 4);
        c.obs = vec![external("a", &[a * 1000]), external("b", &[b * 1000])];
        assert_eq!(c.desired(), 8, "a {a}, b {b}");
    }
}

#[test]
fn every_metric_invalid_keeps_the_count_and_says_so() {
    let mut c = case(TWO, 4);
    c.obs = Vec::new();
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    let active = condition(&d, "ScalingActive");
    assert_eq!(active.status, "False", "{active:?}");
    assert!(
        d.error
            .as_deref()
            .unwrap_or_default()
            .contains("2 invalid out of 2"),
        "{:?}",
        d.error
    );
}

#[test]
fn an_invalid_metric_beside_one_at_the_current_count_is_no_failure() {
    let mut c = case(TWO, 4);
    c.obs = vec![external("a", &[400_000])]; // 4: the current count; b missing
    let d = c.run();
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(condition(&d, "ScalingActive").status, "True");
}

#[test]
fn of_equal_proposals_the_first_metric_is_named() {
    // `computeReplicasForMetrics` replaces the best only when strictly larger.
    let mut c = case(TWO, 4);
    c.obs = vec![external("a", &[600_000]), external("b", &[600_000])];
    let d = c.run();
    assert_eq!(d.desired_replicas, 6);
    assert_eq!(
        d.rescale_reason.as_deref(),
        Some("external metric a above target"),
        "{:?}",
        d.proposals
    );
}

#[test]
fn an_external_metric_with_no_series_is_an_error_not_zero() {
    let mut c = case(TWO, 4);
    c.obs = vec![external("a", &[400_000]), external("b", &[])];
    let d = c.run();
    let b = &d.proposals[1];
    assert_eq!(b.replicas, None, "{b:?}");
    assert!(
        b.error
            .as_deref()
            .unwrap_or_default()
            .contains("no metrics returned from external metrics API"),
        "{b:?}"
    );
}
