//! From a raw recommendation to the desired count: stabilization over the
//! recommendation history, then rate limits, then min/max. Two variants, as in
//! the HPA: with `behavior` (`normalizeDesiredReplicasWithBehaviors`) and the
//! legacy rules without it (`normalizeDesiredReplicas`). Every step returns its
//! number and the reason, and `now` is an argument: nothing reads a clock.

use chrono::Duration;

use super::explain::{Explain, Step};
use super::history::{change_in_period, window_start, History};
use super::input::Time;
use crate::policy::{ResolvedBehavior, ResolvedRules, ScalingPolicyType, SelectPolicy};

/// The outcome of normalization: the steps taken and the final count, with the
/// reasons the HPA would put in its AbleToScale and ScalingLimited conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub desired: i32,
    pub steps: Vec<Step>,
    /// AbleToScale reason and message: ReadyForNewScale or Scale{Up,Down}Stabilized.
    pub able: (&'static str, &'static str),
    /// ScalingLimited: (limited, reason, message).
    pub limited: (bool, &'static str, &'static str),
}

pub const READY: (&str, &str) = ("ReadyForNewScale", "recommended size matches current size");
const UP_STABILIZED: (&str, &str) = (
    "ScaleUpStabilized",
    "recent recommendations were lower than current one, applying the lowest recent recommendation",
);
const DOWN_STABILIZED: (&str, &str) = (
    "ScaleDownStabilized",
    "recent recommendations were higher than current one, applying the highest recent recommendation",
);
const WITHIN_RANGE: (&str, &str) = (
    "DesiredWithinRange",
    "the desired count is within the acceptable range",
);
const UP_LIMIT: (&str, &str) = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
);
const DOWN_LIMIT: (&str, &str) = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
);
const TOO_MANY: (&str, &str) = (
    "TooManyReplicas",
    "the desired replica count is more than the maximum replica count",
);
const TOO_FEW: (&str, &str) = (
    "TooFewReplicas",
    "the desired replica count is less than the minimum replica count",
);

/// The replica bounds of the policy.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub min: i32,
    pub max: i32,
}

/// What normalization starts from.
#[derive(Clone, Copy, Debug)]
pub struct Start {
    pub current: i32,
    /// The raw recommendation (the max over metric proposals).
    pub raw: i32,
    pub bounds: Bounds,
    pub now: Time,
    pub ex: Explain,
}

/// `normalizeDesiredReplicasWithBehaviors`.
pub fn with_behavior(
    s: &Start,
    behavior: &ResolvedBehavior,
    down_window_default: Duration,
    history: &mut History,
) -> Normalized {
    let Start {
        current,
        raw,
        bounds,
        now,
        ex,
    } = *s;
    let up_window = Duration::seconds(i64::from(
        behavior.scale_up.stabilization_window_s.unwrap_or(0),
    ));
    let down_window = behavior
        .scale_down
        .stabilization_window_s
        .map_or(down_window_default, |s| Duration::seconds(i64::from(s)));
    let stabilized = stabilize(history, current, raw, up_window, down_window, now);
    let able = if stabilized == raw {
        READY
    } else if raw >= current {
        UP_STABILIZED
    } else {
        DOWN_STABILIZED
    };
    let mut steps = vec![ex.step("stabilization", stabilized, able.0, || {
        format!(
            "raw {raw} kept within [min of recommendations in the last {}s, max of those in the last {}s] around current {current}: {stabilized}",
            up_window.num_seconds(),
            down_window.num_seconds()
        )
    })];

    // Rate limit, then bounds; together they are `convertDesiredReplicasWithBehaviorRate`.
    let mut rate_limited = false;
    let mut rate_limit = None;
    let mut desired = stabilized;
    let mut limit = (false, WITHIN_RANGE.0, WITHIN_RANGE.1);
    if stabilized > current {
        let up = scale_up_limit(current, history, &behavior.scale_up, now).max(current);
        rate_limit = Some((up, &behavior.scale_up));
        let (cap, reason) = if bounds.max > up {
            (up, UP_LIMIT)
        } else {
            (bounds.max, TOO_MANY)
        };
        if stabilized > cap {
            desired = cap;
            limit = (true, reason.0, reason.1);
            rate_limited = reason == UP_LIMIT;
        }
    } else if stabilized < current {
        let down = scale_down_limit(current, history, &behavior.scale_down, now).min(current);
        rate_limit = Some((down, &behavior.scale_down));
        let (floor, reason) = if bounds.min < down {
            (down, DOWN_LIMIT)
        } else {
            (bounds.min, TOO_FEW)
        };
        if stabilized < floor {
            desired = floor;
            limit = (true, reason.0, reason.1);
            rate_limited = reason == DOWN_LIMIT;
        }
    }
    let after_rate = if rate_limited { desired } else { stabilized };
    let rate_reason = if rate_limited {
        limit.1
    } else {
        "WithinRateLimit"
    };
    steps.push(
        ex.step("rateLimit", after_rate, rate_reason, || match rate_limit {
            Some((n, rules)) if stabilized > current => {
                format!(
                    "scale-up policies allow at most {n} replicas now ({})",
                    describe(rules)
                )
            }
            Some((n, rules)) => format!(
                "scale-down policies allow at least {n} replicas now ({})",
                describe(rules)
            ),
            None => "no rate limit applies".into(),
        }),
    );
    let bounds_reason = if rate_limited {
        WITHIN_RANGE
    } else {
        (limit.1, limit.2)
    };
    steps.push(bounds_step(ex, desired, bounds, bounds_reason));
    Normalized {
        desired,
        steps,
        able,
        limited: limit,
    }
}

/// The controller flags the legacy rules use.
#[derive(Clone, Copy, Debug)]
pub struct LegacyRules {
    /// `--horizontal-pod-autoscaler-downscale-stabilization`.
    pub window: Duration,
    pub up_factor: f64,
    pub up_minimum: f64,
}

/// `normalizeDesiredReplicas`: the rules without `behavior`.
pub fn legacy(s: &Start, rules: &LegacyRules, history: &mut History) -> Normalized {
    let Start {
        current,
        raw,
        bounds,
        now,
        ex,
    } = *s;
    let LegacyRules {
        window,
        up_factor,
        up_minimum,
    } = *rules;
    // `stabilizeRecommendation`: the max over the window, reusing the last old slot.
    let cutoff = window_start(now, window);
    let mut max_rec = raw;
    let mut old = None;
    for (i, rec) in history.recommendations().iter().enumerate() {
        if rec.time < cutoff {
            old = Some(i);
        } else if rec.replicas > max_rec {
            max_rec = rec.replicas;
        }
    }
    history.store_recommendation(old, raw, now);
    let able = if max_rec != raw {
        DOWN_STABILIZED
    } else {
        READY
    };
    let mut steps = vec![ex.step("stabilization", max_rec, able.0, || {
        format!(
            "max of raw {raw} and the recommendations of the last {}s: {max_rec}",
            window.num_seconds()
        )
    })];

    // `convertDesiredReplicasWithRules`.
    let up_limit = (up_factor * f64::from(current)).max(up_minimum) as i32;
    let (max_allowed, reason) = if bounds.max > up_limit {
        (up_limit, UP_LIMIT)
    } else {
        (bounds.max, TOO_MANY)
    };
    let (desired, limit) = if max_rec < bounds.min {
        (bounds.min, (true, TOO_FEW.0, TOO_FEW.1))
    } else if max_rec > max_allowed {
        (max_allowed, (true, reason.0, reason.1))
    } else {
        (max_rec, (false, WITHIN_RANGE.0, WITHIN_RANGE.1))
    };
    let rate_limited = limit.1 == UP_LIMIT.0;
    steps.push(ex.step(
        "rateLimit",
        if rate_limited { desired } else { max_rec },
        if rate_limited {
            UP_LIMIT.0
        } else {
            "WithinRateLimit"
        },
        || format!("legacy scale-up limit max({up_factor}×{current}, {up_minimum}) = {up_limit}"),
    ));
    let bounds_reason = if rate_limited {
        WITHIN_RANGE
    } else {
        (limit.1, limit.2)
    };
    steps.push(bounds_step(ex, desired, bounds, bounds_reason));
    Normalized {
        desired,
        steps,
        able,
        limited: limit,
    }
}

fn bounds_step(
    ex: Explain,
    desired: i32,
    bounds: Bounds,
    (reason, message): (&'static str, &'static str),
) -> Step {
    ex.step("bounds", desired, reason, || {
        format!("{message} [{}, {}]", bounds.min, bounds.max)
    })
}

/// `stabilizeRecommendationWithBehaviors`: keeps `current` between the lowest
/// recommendation of the scale-up window and the highest of the scale-down
/// window (both including `raw`), and records `raw`.
fn stabilize(
    history: &mut History,
    current: i32,
    raw: i32,
    up_window: Duration,
    down_window: Duration,
    now: Time,
) -> i32 {
    let up_cutoff = window_start(now, up_window);
    let down_cutoff = window_start(now, down_window);
    let mut up_rec = raw;
    let mut down_rec = raw;
    let mut old = None;
    let older_cutoff = up_cutoff.min(down_cutoff);
    for (i, rec) in history.recommendations().iter().enumerate() {
        if rec.time < older_cutoff {
            old = Some(i); // before both cutoffs: in neither window, and reusable
            continue;
        }
        if rec.time > up_cutoff {
            up_rec = up_rec.min(rec.replicas);
        }
        if rec.time > down_cutoff {
            down_rec = down_rec.max(rec.replicas);
        }
    }
    history.store_recommendation(old, raw, now);
    current.max(up_rec).min(down_rec)
}

/// Policies applied to the replica count at the start of each policy's period.
fn policy_limits<'a>(
    current: i32,
    history: &'a History,
    rules: &'a ResolvedRules<'a>,
    now: Time,
    propose: impl Fn(ScalingPolicyType, i32, i32) -> i32 + 'a,
) -> impl Iterator<Item = i32> + 'a {
    rules.policies.iter().map(move |p| {
        let added = change_in_period(&history.scale_up_events, p.period_seconds, now);
        let removed = change_in_period(&history.scale_down_events, p.period_seconds, now);
        let period_start = current.saturating_sub(added).saturating_add(removed);
        propose(p.policy_type, period_start, p.value)
    })
}

/// `calculateScaleUpLimitWithScalingRules`.
pub fn scale_up_limit(current: i32, history: &History, rules: &ResolvedRules, now: Time) -> i32 {
    let limits = policy_limits(current, history, rules, now, |t, start, v| match t {
        ScalingPolicyType::Pods => start.saturating_add(v),
        ScalingPolicyType::Percent => {
            (f64::from(start) * (1.0 + f64::from(v) / 100.0)).ceil() as i32
        }
    });
    match rules.select_policy {
        SelectPolicy::Disabled => current,
        SelectPolicy::Min => limits.fold(i32::MAX, i32::min),
        SelectPolicy::Max => limits.fold(i32::MIN, i32::max),
    }
}

/// `calculateScaleDownLimitWithBehaviors`.
pub fn scale_down_limit(current: i32, history: &History, rules: &ResolvedRules, now: Time) -> i32 {
    let limits = policy_limits(current, history, rules, now, |t, start, v| match t {
        ScalingPolicyType::Pods => start.saturating_sub(v),
        ScalingPolicyType::Percent => (f64::from(start) * (1.0 - f64::from(v) / 100.0)) as i32,
    });
    match rules.select_policy {
        SelectPolicy::Disabled => current,
        SelectPolicy::Min => limits.fold(i32::MIN, i32::max),
        SelectPolicy::Max => limits.fold(i32::MAX, i32::min),
    }
}

/// The longest policy period of a direction: how long its scale events matter.
pub fn longest_period_s(rules: &ResolvedRules) -> i32 {
    rules
        .policies
        .iter()
        .map(|p| p.period_seconds)
        .max()
        .unwrap_or(0)
}

fn describe(rules: &ResolvedRules) -> String {
    let policies: Vec<String> = rules
        .policies
        .iter()
        .map(|p| {
            let unit = if p.policy_type == ScalingPolicyType::Percent {
                "%"
            } else {
                " pods"
            };
            format!("{}{unit}/{}s", p.value, p.period_seconds)
        })
        .collect();
    format!(
        "select {:?} of {}",
        rules.select_policy,
        policies.join(", ")
    )
}
