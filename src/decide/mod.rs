//! The pure decision chain: proposal → tolerance → stabilization → rate limits
//! → min/max, replicating kube-controller-manager's HorizontalPodAutoscaler
//! (`horizontal.go`, `replica_calculator.go`) exactly, with every step
//! recording its reason and `now` injected.
//!
//! May import `policy`, `quantity` and std/serde/chrono; never `kube` or
//! `rdkafka`, and never the wall clock.

mod activation;
mod burst;
mod calculator;
mod error;
mod explain;
mod history;
mod input;
mod normalize;
mod pods;
mod proposals;

pub use calculator::{ceil_to_i32, Tolerances};
pub use error::MetricError;
pub use explain::{Condition, Decision, Step};
pub use history::{History, TimedReplicas};
pub use input::{
    zero_time, Container, ControllerConfig, DecisionInput, Forecast, Observation, Pod, PodPhase,
    PodSample, Time,
};
pub use normalize::{scale_down_limit, scale_up_limit};
pub use proposals::Proposal;

use explain::Explain;
use normalize::{Bounds, LegacyRules, Start};
use proposals::Combined;

use crate::policy::ResolvedBehavior;

const ABLE: &str = "AbleToScale";
const ACTIVE: &str = "ScalingActive";
const LIMITED: &str = "ScalingLimited";

/// The metrics the proposals are sized with: the policy's, with every target
/// raised by the forecast's `relaxTargetsPercent` while the forecast is trusted.
fn sizing_metrics<'a>(
    input: &'a DecisionInput<'_>,
) -> std::borrow::Cow<'a, [crate::policy::MetricSpec]> {
    let metrics = input.policy.effective_metrics();
    match &input.forecast {
        Some(f)
            if !f.gated
                && f.mode != crate::policy::ForecastMode::Off
                && f.relax_targets_percent > 0.0 =>
        {
            let factor = 1.0 + f.relax_targets_percent / 100.0;
            std::borrow::Cow::Owned(
                metrics
                    .iter()
                    .map(|m| m.with_target_scaled(factor))
                    .collect(),
            )
        }
        _ => metrics,
    }
}

/// The forecast step: in `max` mode the larger of the reactive proposal and
/// what the forecast needs; in `predictive` mode the forecast's alone. A
/// forecast whose metrics are invalid is ignored (the reactive proposal stands).
fn forecast_step(
    input: &DecisionInput,
    metrics: &[crate::policy::MetricSpec],
    decision: &mut Decision,
    ex: Explain,
    tolerances: Tolerances,
    reactive: i32,
    metric: String,
) -> (i32, String) {
    let Some(f) = input.forecast.as_ref() else {
        return (reactive, metric);
    };
    if f.mode == crate::policy::ForecastMode::Off {
        return (reactive, metric);
    }
    if f.gated {
        decision
            .steps
            .push(ex.step("forecast", reactive, "ForecastGated", || f.label.clone()));
        return (reactive, metric);
    }
    let ahead = DecisionInput {
        observations: f.observations.clone(),
        forecast: None,
        ..input.clone()
    };
    let (_, combined) = proposals::propose_all(&ahead, metrics, tolerances);
    let Combined::Valid { replicas, .. } = combined else {
        decision
            .steps
            .push(ex.step("forecast", reactive, "ForecastInvalid", || {
                format!(
                    "{}: no valid proposal; the reactive {reactive} stands",
                    f.label
                )
            }));
        return (reactive, metric);
    };
    let predictive = f.mode == crate::policy::ForecastMode::Predictive;
    if predictive || replicas > reactive {
        decision
            .steps
            .push(ex.step("forecast", replicas, "ForecastAhead", || {
                format!(
                    "{} needs {replicas} (reactive {reactive}){}",
                    f.label,
                    relaxed(f)
                )
            }));
        (replicas, ex.msg(|| f.label.clone()))
    } else {
        decision
            .steps
            .push(ex.step("forecast", reactive, "ReactiveHigher", || {
                format!(
                    "{} needs {replicas}; the reactive {reactive} stands{}",
                    f.label,
                    relaxed(f)
                )
            }));
        (reactive, metric)
    }
}

/// In `both` mode, a scale-down while the gate trusts the forecast and its
/// horizon covers the scale-down window: the step saying the window is not
/// held (the forecast's upper bound, already in `raw`, keeps the capacity the
/// window's peak needs). `None` otherwise, or when the forecast made no valid
/// proposal.
fn forecast_scale_down(
    input: &DecisionInput,
    decision: &Decision,
    raw: i32,
    window: chrono::Duration,
) -> Option<Step> {
    let f = input.forecast.as_ref()?;
    let current = input.current_replicas;
    let acted = decision.steps.last().is_some_and(|s| {
        s.step == "forecast" && matches!(s.reason, "ForecastAhead" | "ReactiveHigher")
    });
    if f.mode != crate::policy::ForecastMode::Both
        || f.gated
        || !acted
        || raw >= current
        || window <= chrono::Duration::zero()
        || f.horizon_s < window.num_seconds()
    {
        return None;
    }
    Some(Explain(input.explain).step("forecast", raw, "ForecastScaleDown", || {
        format!(
            "{}: the trusted forecast covers the next {} s, so the {} s scale-down window is not held",
            f.label,
            f.horizon_s,
            window.num_seconds()
        )
    }))
}

/// What the reasons say of relaxed targets.
fn relaxed(f: &crate::decide::Forecast) -> String {
    if f.relax_targets_percent > 0.0 {
        format!(
            "; targets raised {}% while the forecast is trusted",
            f.relax_targets_percent
        )
    } else {
        String::new()
    }
}

/// Runs the whole chain once: what the HPA's `reconcileAutoscaler` would decide
/// for `input`, given and updating `history`.
pub fn decide(input: &DecisionInput, mut history: History) -> Decision {
    let now = input.now;
    let current = input.current_replicas;
    let ex = Explain(input.explain);
    let bounds = Bounds {
        min: input.policy.min_replicas(),
        max: input.policy.max_replicas,
    };
    let behavior = input.policy.resolved_behavior();
    history.record_initial(current, now);
    let got_scale = ex.condition(ABLE, true, "SucceededGetScale", || {
        "the HPA controller was able to get the target's current scale".into()
    });
    let mut decision = Decision {
        desired_replicas: current,
        current_replicas: current,
        proposals: Vec::new(),
        steps: Vec::new(),
        conditions: Vec::new(),
        rescale_reason: None,
        history: History::default(),
        error: None,
    };

    // Proposals are computed up front so that every decision shows what the
    // metrics say, even when (as the HPA does) the bounds decide without them.
    let tolerances = tolerances(input, behavior.as_ref());
    let metrics = sizing_metrics(input);
    let combined = match input.raw_recommendation {
        Some(_) => None,
        None => {
            let (proposals, combined) = proposals::propose_all(input, &metrics, tolerances);
            decision.proposals = proposals;
            Some(combined)
        }
    };

    if current == 0 && bounds.min != 0 {
        let msg =
            || "scaling is disabled since the replica count of the target is zero".to_string();
        decision
            .steps
            .push(ex.step("metrics", 0, "ScalingDisabled", msg));
        decision.conditions = vec![
            got_scale,
            ex.condition(ACTIVE, false, "ScalingDisabled", msg),
        ];
        decision.history = history;
        return decision;
    }
    if current > bounds.max || current < bounds.min {
        let (desired, reason, msg) = if current > bounds.max {
            (
                bounds.max,
                "TooManyReplicas",
                "Current number of replicas above Spec.MaxReplicas",
            )
        } else {
            (
                bounds.min,
                "TooFewReplicas",
                "Current number of replicas below Spec.MinReplicas",
            )
        };
        decision
            .steps
            .push(ex.step("bounds", desired, reason, || msg.into()));
        decision.rescale_reason = ex.0.then(|| msg.into());
        return finish(
            decision,
            ex,
            desired,
            behavior.as_ref(),
            history,
            now,
            Vec::new(),
        );
    }

    let (raw, metric) = match (input.raw_recommendation, combined) {
        (Some(raw), _) => {
            decision
                .steps
                .push(ex.step("metrics", raw, "RawRecommendation", || {
                    format!("metric proposals skipped: raw recommendation {raw} given")
                }));
            decision
                .steps
                .push(ex.step("tolerance", raw, "NotApplied", || {
                    "tolerance applies to metric ratios, not to a given recommendation".into()
                }));
            (raw, ex.msg(|| "the raw recommendation".into()))
        }
        (None, combined) => {
            match combined.expect("proposals are computed without a raw recommendation") {
                Combined::Invalid { reason, message } => {
                    decision
                        .steps
                        .push(ex.step("metrics", current, reason, || message.clone()));
                    decision.conditions = vec![
                        got_scale,
                        ex.condition(ACTIVE, false, reason, || {
                            format!("the HPA was unable to compute the replica count: {message}")
                        }),
                    ];
                    decision.error = Some(message);
                    decision.history = history;
                    return decision;
                }
                Combined::Valid {
                    replicas,
                    metric,
                    partial_error,
                } => {
                    let n = decision.proposals.len();
                    decision.steps.push(ex.step("metrics", replicas, "ValidMetricFound", || match &partial_error {
                    Some(e) => format!("max over the valid metrics: {metric} proposes {replicas}; scaling up despite {e}"),
                    None => format!("max over {n} metric(s): {metric} proposes {replicas}"),
                }));
                    decision.steps.push(tolerance_step(
                        ex,
                        &decision.proposals,
                        &metric,
                        replicas,
                        tolerances,
                    ));
                    forecast_step(
                        input,
                        &metrics,
                        &mut decision,
                        ex,
                        tolerances,
                        replicas,
                        metric,
                    )
                }
            }
        }
    };
    decision.rescale_reason = match raw.cmp(&current) {
        _ if !ex.0 => None,
        std::cmp::Ordering::Greater => Some(format!("{metric} above target")),
        std::cmp::Ordering::Less => Some("All metrics below target".into()),
        std::cmp::Ordering::Equal => None,
    };

    let start = Start {
        current,
        raw,
        bounds,
        now,
        ex,
    };
    // The scale-down window, unless a trusted `both` forecast covers it.
    let down_window = behavior
        .as_ref()
        .and_then(|b| b.scale_down.stabilization_window_s)
        .map_or(input.controller.downscale_stabilization_window, |s| {
            chrono::Duration::seconds(i64::from(s))
        });
    let down_window = match forecast_scale_down(input, &decision, raw, down_window) {
        Some(step) => {
            decision.steps.push(step);
            chrono::Duration::zero()
        }
        None => down_window,
    };
    let normalized = match &behavior {
        Some(b) => {
            let mut b = b.clone();
            b.scale_down.stabilization_window_s = None;
            normalize::with_behavior(&start, &b, down_window, &mut history)
        }
        None => normalize::legacy(
            &start,
            &LegacyRules {
                window: down_window,
                up_factor: input.controller.scale_up_limit_factor,
                up_minimum: input.controller.scale_up_limit_minimum,
            },
            &mut history,
        ),
    };
    decision.steps.extend(normalized.steps);
    let (limited, reason, message) = normalized.limited;
    let conditions = vec![
        ex.condition(ABLE, true, normalized.able.0, || normalized.able.1.into()),
        ex.condition(ACTIVE, true, "ValidMetricFound", || {
            format!("the HPA was able to successfully calculate a replica count from {metric}")
        }),
        ex.condition(LIMITED, limited, reason, || message.into()),
    ];
    let mut desired = normalized.desired;
    if let Some((n, step)) = burst::burst(input, desired, tolerances, &mut history, ex) {
        decision.steps.push(step);
        desired = n;
    }
    if let Some((n, step)) = activation::activate(input, desired, &mut history, ex) {
        decision.steps.push(step);
        desired = n;
    }
    finish(
        decision,
        ex,
        desired,
        behavior.as_ref(),
        history,
        now,
        conditions,
    )
}

/// Records the outcome: AbleToScale becomes SucceededRescale when the count
/// changes (the write is assumed to succeed), and the scale event is stored.
fn finish(
    mut decision: Decision,
    ex: Explain,
    desired: i32,
    behavior: Option<&ResolvedBehavior>,
    mut history: History,
    now: Time,
    mut conditions: Vec<Condition>,
) -> Decision {
    let current = decision.current_replicas;
    if desired != current {
        let able = ex.condition(ABLE, true, "SucceededRescale", || {
            format!("the HPA controller was able to update the target scale to {desired}")
        });
        // AbleToScale, when present, is always the first condition.
        match conditions.first_mut() {
            Some(c) if c.condition_type == ABLE => *c = able,
            _ => conditions.insert(0, able),
        }
        if let Some(b) = behavior {
            let rules = if desired > current {
                &b.scale_up
            } else {
                &b.scale_down
            };
            history.store_scale_event(current, desired, normalize::longest_period_s(rules), now);
        }
    } else {
        decision.rescale_reason = None;
    }
    decision.desired_replicas = desired;
    decision.conditions = conditions;
    decision.history = history;
    decision
}

/// `tolerancesForHpa`: the controller's tolerance, overridden per direction by `behavior`.
fn tolerances(input: &DecisionInput, behavior: Option<&ResolvedBehavior>) -> Tolerances {
    let global = input.controller.tolerance;
    Tolerances {
        scale_down: behavior
            .and_then(|b| b.scale_down.tolerance)
            .unwrap_or(global),
        scale_up: behavior
            .and_then(|b| b.scale_up.tolerance)
            .unwrap_or(global),
    }
}

fn tolerance_step(
    ex: Explain,
    proposals: &[Proposal],
    metric: &str,
    replicas: i32,
    t: Tolerances,
) -> Step {
    let winner = proposals
        .iter()
        .find(|p| p.metric == metric && p.replicas == Some(replicas));
    let within = winner.and_then(|p| p.within_tolerance) == Some(true);
    let reason = if within {
        "WithinTolerance"
    } else {
        "OutsideTolerance"
    };
    ex.step("tolerance", replicas, reason, || {
        let band = format!("[{:.3}, {:.3}]", 1.0 - t.scale_down, 1.0 + t.scale_up);
        // Once missing and unready pods were filled in, the adjusted ratio is
        // the one the band was applied to.
        let ratio = winner.and_then(|p| match (p.ratio, p.adjusted_ratio) {
            (Some(first), Some(adjusted)) => Some(format!(
                "usage ratio {first:.3} of {metric} ({adjusted:.3} once pods without \
                 metrics or not ready were counted)"
            )),
            (Some(first), None) => Some(format!("usage ratio {first:.3} of {metric}")),
            _ => None,
        });
        match ratio {
            Some(ratio) if within => format!("{ratio} is within {band}: current count kept"),
            Some(ratio) => format!("{ratio} is outside {band}"),
            None => format!("tolerance band {band}"),
        }
    })
}

#[cfg(test)]
mod tests;
