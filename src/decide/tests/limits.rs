//! The edges of normalization: a count that lands exactly on a rate limit or
//! a bound is not "limited"; a rate limit equal to a bound is reported as the
//! bound, as the HPA does; and the legacy rules (no `behavior`) honour
//! `minReplicas`, their own scale-up limit and the first instant of their
//! window. (Written against cargo-mutants survivors: each test fails with the
//! mutant in.)

use super::*;

fn step<'a>(d: &'a Decision, name: &str) -> &'a Step {
    d.steps
        .iter()
        .find(|s| s.step == name)
        .unwrap_or_else(|| panic!("no {name} step in {:?}", d.steps))
}

/// (desired, ScalingLimited status, its reason, rateLimit step reason, bounds step reason).
fn outcome(c: &Case, raw: i32) -> (i32, &'static str, &'static str, &'static str, &'static str) {
    let mut c = Case {
        raw: Some(raw),
        ..c.clone()
    };
    c.obs.clear();
    let d = c.run();
    let limited = condition(&d, "ScalingLimited");
    (
        d.desired_replicas,
        limited.status,
        limited.reason,
        step(&d, "rateLimit").reason,
        step(&d, "bounds").reason,
    )
}

const WITHIN: &str = "DesiredWithinRange";

#[test]
fn reaching_the_scale_up_limit_exactly_is_not_limited() {
    // Default scale-up policies from 1 replica: max(1 + 4 pods, 2 × 1) = 5.
    let c = case(
        "{maxReplicas: 100, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}}",
        1,
    );
    assert_eq!(
        outcome(&c, 5),
        (5, "False", WITHIN, "WithinRateLimit", WITHIN)
    );
    assert_eq!(
        outcome(&c, 6),
        (5, "True", "ScaleUpLimit", "ScaleUpLimit", WITHIN)
    );
}

#[test]
fn reaching_the_scale_down_limit_exactly_is_not_limited() {
    let c = case("{maxReplicas: 100, behavior: {scaleDown: {stabilizationWindowSeconds: 0, policies: [{type: Percent, value: 50, periodSeconds: 60}]}}}", 10);
    assert_eq!(
        outcome(&c, 5),
        (5, "False", WITHIN, "WithinRateLimit", WITHIN)
    );
    assert_eq!(
        outcome(&c, 4),
        (5, "True", "ScaleDownLimit", "ScaleDownLimit", WITHIN)
    );
}

#[test]
fn a_scale_down_limit_equal_to_min_replicas_is_reported_as_too_few() {
    // 50 % of 10 is 5, and so is minReplicas: the bound is named, not the rate.
    let c = case("{minReplicas: 5, maxReplicas: 100, behavior: {scaleDown: {stabilizationWindowSeconds: 0, policies: [{type: Percent, value: 50, periodSeconds: 60}]}}}", 10);
    assert_eq!(
        outcome(&c, 1),
        (
            5,
            "True",
            "TooFewReplicas",
            "WithinRateLimit",
            "TooFewReplicas"
        )
    );
}

#[test]
fn no_rate_limit_applies_when_the_count_stays() {
    let mut c = case(
        "{maxReplicas: 100, behavior: {scaleDown: {stabilizationWindowSeconds: 0}}}",
        4,
    );
    c.raw = Some(4);
    let d = c.run();
    let rate = step(&d, "rateLimit");
    assert_eq!((rate.replicas, rate.reason), (4, "WithinRateLimit"));
    assert_eq!(rate.message, "no rate limit applies");
}

#[test]
fn legacy_scale_up_limit_equal_to_max_replicas_is_reported_as_too_many() {
    // max(2 × 5, 4) = 10 = maxReplicas.
    let c = case("{minReplicas: 2, maxReplicas: 10}", 5);
    assert_eq!(
        outcome(&c, 20),
        (
            10,
            "True",
            "TooManyReplicas",
            "WithinRateLimit",
            "TooManyReplicas"
        )
    );
}

#[test]
fn legacy_rules_raise_a_recommendation_below_min_replicas_to_it() {
    let c = case("{minReplicas: 2, maxReplicas: 10}", 3);
    assert_eq!(
        outcome(&c, 1),
        (
            2,
            "True",
            "TooFewReplicas",
            "WithinRateLimit",
            "TooFewReplicas"
        )
    );
    assert_eq!(
        outcome(&c, 2),
        (2, "False", WITHIN, "WithinRateLimit", WITHIN)
    );
}

#[test]
fn legacy_scale_up_to_its_limit_exactly_is_not_limited() {
    // max(2 × 2, 4) = 4.
    let c = case("{maxReplicas: 100}", 2);
    assert_eq!(
        outcome(&c, 4),
        (4, "False", WITHIN, "WithinRateLimit", WITHIN)
    );
    assert_eq!(
        outcome(&c, 5),
        (4, "True", "ScaleUpLimit", "ScaleUpLimit", WITHIN)
    );
}

#[test]
fn legacy_stabilization_counts_a_recommendation_made_exactly_one_window_ago() {
    // The HPA drops a recommendation only when it is *before* now − window.
    let mut c = case("{maxReplicas: 100}", 5);
    c.history.recommendations = Some(vec![TimedReplicas {
        time: t(-300),
        replicas: 8,
    }]);
    assert_eq!(outcome(&c, 3).0, 8);
    c.history.recommendations = Some(vec![TimedReplicas {
        time: t(-301),
        replicas: 8,
    }]);
    assert_eq!(outcome(&c, 3).0, 3);
}

#[test]
fn behavior_windows_leave_out_a_recommendation_made_exactly_one_window_ago() {
    // `stabilizeRecommendationWithBehaviors` counts recommendations strictly
    // after now − window, in both directions.
    let at = |s: i64, replicas: i32| {
        Some(vec![TimedReplicas {
            time: t(s),
            replicas,
        }])
    };
    let mut up = case("{maxReplicas: 100, behavior: {scaleUp: {stabilizationWindowSeconds: 60}, scaleDown: {stabilizationWindowSeconds: 0}}}", 2);
    up.history.recommendations = at(-60, 2);
    assert_eq!(outcome(&up, 5).0, 5);
    up.history.recommendations = at(-59, 2);
    assert_eq!(outcome(&up, 5).0, 2);

    let mut down = case(
        "{maxReplicas: 100, behavior: {scaleDown: {stabilizationWindowSeconds: 60}}}",
        8,
    );
    down.history.recommendations = at(-60, 8);
    assert_eq!(outcome(&down, 3).0, 3);
    down.history.recommendations = at(-59, 8);
    assert_eq!(outcome(&down, 3).0, 8);
}
