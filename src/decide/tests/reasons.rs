//! What the decision says of itself: the forecast step's reasons in each
//! mode, the tolerance step's band and ratio, the HPA conditions of a
//! rescale, and nothing formatted when no explanation is asked for. (Written
//! against cargo-mutants survivors: each test fails with the mutant in.)

use super::*;

const RPS100: &str = "{maxReplicas: 50, metrics: [{type: External, external: {metric: {name: rps}, target: {type: AverageValue, averageValue: '100'}}}]}";

/// 10 replicas serving 1000 rps now; the forecast sees `ahead` rps.
fn with_forecast(mode: crate::policy::ForecastMode, ahead: i64, relax: f64) -> Decision {
    let mut c = case(RPS100, 10);
    c.obs = vec![external("rps", &[1_000_000])];
    c.forecast = Some(Forecast {
        observations: vec![external("rps", &[ahead * 1000])],
        mode,
        label: "forecast".into(),
        gated: false,
        relax_targets_percent: relax,
        horizon_s: 300,
    });
    c.run()
}

#[test]
fn predictive_mode_follows_the_forecast_down_and_max_mode_keeps_the_reactive_count() {
    use crate::policy::ForecastMode::{Max, Predictive};
    let d = with_forecast(Predictive, 500, 0.0);
    let f = forecast_step(&d);
    assert_eq!(
        (f.replicas, f.reason),
        (5, "ForecastAhead"),
        "{}",
        f.message
    );
    let d = with_forecast(Max, 500, 0.0);
    let f = forecast_step(&d);
    assert_eq!((f.replicas, f.reason), (10, "ReactiveHigher"));
    assert_eq!(f.message, "forecast needs 5; the reactive 10 stands");
}

#[test]
fn a_forecast_equal_to_the_reactive_count_leaves_it_and_claims_no_relaxed_target() {
    let d = with_forecast(crate::policy::ForecastMode::Max, 1000, 0.0);
    let f = forecast_step(&d);
    assert_eq!((f.replicas, f.reason), (10, "ReactiveHigher"));
    assert!(!f.message.contains("raised"), "relax 0: {}", f.message);
}

#[test]
fn the_tolerance_step_reports_the_winning_proposal_s_ratio_and_band() {
    // Two metrics of one name: at 100 per replica 1000 is exactly 10
    // (within tolerance); at 40 per replica it needs 25 (outside) and wins.
    let two = "{maxReplicas: 50, metrics: [{type: External, external: {metric: {name: rps}, target: {type: AverageValue, averageValue: '100'}}}, {type: External, external: {metric: {name: rps}, target: {type: AverageValue, averageValue: '40'}}}]}";
    let mut c = case(two, 10);
    c.obs = vec![external("rps", &[1_000_000])];
    let d = c.run();
    let step = d.steps.iter().find(|s| s.step == "tolerance").unwrap();
    assert_eq!((step.reason, step.replicas), ("OutsideTolerance", 25));
    assert_eq!(
        step.message,
        "usage ratio 2.500 of external metric rps is outside [0.900, 1.100]"
    );

    let mut c = case(RPS100, 10);
    c.obs = vec![external("rps", &[1_050_000])];
    let d = c.run();
    let step = d.steps.iter().find(|s| s.step == "tolerance").unwrap();
    assert_eq!((step.reason, d.desired_replicas), ("WithinTolerance", 10));
    assert_eq!(
        step.message,
        "usage ratio 1.050 of external metric rps is within [0.900, 1.100]: current count kept"
    );
}

#[test]
fn a_rescale_has_one_able_to_scale_condition_saying_it_succeeded() {
    let mut c = case(CPU50, 3);
    c.obs = vec![cpu(&[900, 900, 900])];
    let d = c.run();
    assert_eq!(d.desired_replicas, 6);
    let able: Vec<_> = d
        .conditions
        .iter()
        .filter(|c| c.condition_type == "AbleToScale")
        .collect();
    assert_eq!(able.len(), 1, "{:?}", d.conditions);
    assert_eq!(able[0].reason, "SucceededRescale");
    assert_eq!(d.conditions[0].condition_type, "AbleToScale");
    condition(&d, "ScalingActive");
    condition(&d, "ScalingLimited");
}

#[test]
fn without_an_explanation_nothing_is_formatted() {
    let mut c = case(CPU50, 3);
    c.obs = vec![cpu(&[900, 900, 900])];
    let input = DecisionInput {
        explain: false,
        ..c.input()
    };
    let d = decide(&input, c.history.clone());
    assert_eq!(d.desired_replicas, 6);
    assert_eq!(d.rescale_reason, None);
    assert!(
        d.steps.iter().all(|s| s.message.is_empty()),
        "{:?}",
        d.steps
    );
}
