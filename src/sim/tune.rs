//! `scalepilot tune`: the cheapest policy that would have kept a history
//! within an under-provisioning budget. Coordinate descent over the policy's
//! knobs (target, tolerances, scale-down window and rate, the forecast's
//! target relaxation), each replayed through the real decision chain on the
//! history alone: fixed knob order, fixed value lists, ties kept, so the same
//! inputs always give the same policy.
//!
//! The budget must hold in every stretch of the history as long as one of
//! `periods` equal parts of it, wherever that stretch begins, not only over
//! the whole of it: averaged over the whole, a calm stretch pays for a bursty
//! one, and the policy found runs over its budget as soon as the future is
//! burstier than the history's average.

use serde::Serialize;

use super::{retarget, NamedPolicy, SimConfig, Trace};
use crate::error::{Error, Result};
use crate::policy::{
    Behavior, PolicySpec, ScalingPolicyRule, ScalingPolicyType, ScalingRules, SelectPolicy,
};
use crate::quantity::Quantity;

/// One knob: its name, the values tried, and how a value is set.
struct Knob {
    name: &'static str,
    values: Vec<f64>,
    set: fn(&mut PolicySpec, f64, f64),
    /// Only for policies that forecast.
    forecast_only: bool,
}

fn rules(spec: &mut PolicySpec, up: bool) -> &mut ScalingRules {
    let b = spec.behavior.get_or_insert_with(Behavior::default);
    let r = if up {
        &mut b.scale_up
    } else {
        &mut b.scale_down
    };
    r.get_or_insert_with(ScalingRules::default)
}

fn knobs() -> Vec<Knob> {
    vec![
        Knob {
            name: "target %",
            values: (8..=19).map(|i| f64::from(i * 5)).collect(),
            set: |s, v, capacity| *s = retarget(s, v as i32, capacity),
            forecast_only: false,
        },
        Knob {
            name: "scaleUp.tolerance",
            values: vec![0.0, 0.02, 0.05, 0.1],
            set: |s, v, _| {
                rules(s, true).tolerance = Some(Quantity::from_milli((v * 1000.0) as i64))
            },
            forecast_only: false,
        },
        Knob {
            name: "scaleDown.tolerance",
            values: vec![0.0, 0.05, 0.1, 0.2],
            set: |s, v, _| {
                rules(s, false).tolerance = Some(Quantity::from_milli((v * 1000.0) as i64))
            },
            forecast_only: false,
        },
        Knob {
            name: "scaleDown.stabilizationWindowSeconds",
            values: vec![0.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0],
            set: |s, v, _| rules(s, false).stabilization_window_seconds = Some(v as i32),
            forecast_only: false,
        },
        Knob {
            name: "scaleDown % per minute",
            values: vec![5.0, 10.0, 25.0, 50.0, 100.0],
            set: |s, v, _| {
                let r = rules(s, false);
                r.select_policy = Some(SelectPolicy::Max);
                r.policies = Some(vec![ScalingPolicyRule {
                    policy_type: ScalingPolicyType::Percent,
                    value: v as i32,
                    period_seconds: 60,
                }]);
            },
            forecast_only: false,
        },
        Knob {
            name: "forecast.relaxTargetsPercent",
            values: vec![0.0, 5.0, 10.0, 15.0, 20.0, 30.0],
            set: |s, v, _| {
                if let Some(f) = s.forecast.as_mut() {
                    f.relax_targets_percent = Some(v);
                }
            },
            forecast_only: true,
        },
    ]
}

/// Cost and under-provisioning of one replay.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Score {
    pub replica_hours: f64,
    /// Over the whole replay.
    pub under_provisioned_pct: f64,
    /// In the worst stretch of the history as long as one period (what the
    /// budget bounds).
    pub worst_period_pct: f64,
}

impl Score {
    /// Within budget (in every period) beats over it; within budget, cheaper
    /// wins; over it, less often short in the worst period wins. Equal is
    /// not better (the earlier value stays).
    fn better_than(&self, other: &Score, budget_pct: f64) -> bool {
        let (a, b) = (self.within(budget_pct), other.within(budget_pct));
        match (a, b) {
            (true, false) => true,
            (false, true) => false,
            (true, true) => {
                (self.replica_hours, self.worst_period_pct)
                    < (other.replica_hours, other.worst_period_pct)
            }
            (false, false) => {
                (self.worst_period_pct, self.replica_hours)
                    < (other.worst_period_pct, other.replica_hours)
            }
        }
    }

    /// Within `budget_pct` in every period (hence over the whole too).
    pub fn within(&self, budget_pct: f64) -> bool {
        self.worst_period_pct <= budget_pct
    }
}

/// The highest share (%) of time under-provisioned in any stretch of
/// `[start, end)` as long as one of `periods` equal parts of it, wherever the
/// stretch begins: fixed parts split a burst at their boundaries and count
/// half of it in each; a sliding stretch does not. `short` is sorted and
/// disjoint. The overlap is piecewise linear in the stretch's start, so its
/// maximum lies where a stretch edge meets an interval edge (or at either
/// end of the span).
pub fn worst_stretch_pct(short: &[(i64, i64)], start: i64, end: i64, periods: u32) -> f64 {
    let span = end.saturating_sub(start);
    if span <= 0 || periods == 0 || short.is_empty() {
        return 0.0;
    }
    let len = (span / i64::from(periods)).max(1);
    let mut cum = Vec::with_capacity(short.len() + 1);
    cum.push(0i64);
    for &(a, b) in short {
        cum.push(cum[cum.len() - 1] + (b - a).max(0));
    }
    let overlap = |x: i64| {
        let y = x + len;
        let first = short.partition_point(|&(_, b)| b <= x);
        let last = short.partition_point(|&(a, _)| a < y);
        if first >= last {
            return 0;
        }
        let (a0, _) = short[first];
        let (_, b1) = short[last - 1];
        cum[last] - cum[first] - (x - a0).max(0) - (b1 - y).max(0)
    };
    let latest = end - len;
    let best = short
        .iter()
        .flat_map(|&(a, b)| [a, b, a - len, b - len])
        .chain([start, latest])
        .map(|x| overlap(x.clamp(start, latest.max(start))))
        .max()
        .unwrap_or(0);
    100.0 * best as f64 / len as f64
}

/// One accepted change of the descent.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub knob: &'static str,
    pub value: f64,
    pub score: Score,
}

/// What the descent found.
#[derive(Clone, Debug)]
pub struct Tuned {
    pub spec: PolicySpec,
    pub base: Score,
    pub best: Score,
    pub within_budget: bool,
    pub steps: Vec<Step>,
    pub replays: usize,
}

/// At most this many passes over the knobs.
const MAX_PASSES: usize = 3;

/// The replays one descent makes at most, for a progress bar.
pub fn max_replays(base: &NamedPolicy) -> usize {
    let per_pass: usize = knobs()
        .iter()
        .filter(|k| !k.forecast_only || base.spec.forecast.is_some())
        .map(|k| k.values.len())
        .sum();
    1 + MAX_PASSES * per_pass
}

/// Replays `policy` alone over `trace`, judging the budget in every stretch
/// of one `periods`-th of it.
pub fn score(trace: &Trace, policy: &NamedPolicy, cfg: &SimConfig, periods: u32) -> Result<Score> {
    let solo = SimConfig {
        baselines: Vec::new(),
        ..cfg.clone()
    };
    let outcome = super::run(
        trace.clone(),
        std::slice::from_ref(policy),
        &solo,
        |_, _, _| {},
    )?;
    let replay = outcome
        .replays
        .first()
        .ok_or_else(|| Error::Input("tune: the replay produced no scorecard".into()))?;
    let whole = replay.score.under_provisioned_pct;
    let worst = worst_stretch_pct(&replay.short, trace.start(), trace.end(), periods);
    Ok(Score {
        replica_hours: replay.score.replica_hours,
        under_provisioned_pct: whole,
        worst_period_pct: worst.max(whole),
    })
}

/// The cheapest variant of `base` found whose τU in every stretch of one
/// `periods`-th of `trace` is at most `budget_pct` (or, when none is, the
/// least often short in its worst stretch); `done()` after each replay.
pub fn tune(
    trace: &Trace,
    base: &NamedPolicy,
    cfg: &SimConfig,
    budget_pct: f64,
    periods: u32,
    mut done: impl FnMut(),
) -> Result<Tuned> {
    let capacity = cfg.capacity.per_replica();
    let base_score = score(trace, base, cfg, periods)?;
    done();
    let mut best = (base.spec.clone(), base_score);
    let mut steps = Vec::new();
    let mut replays = 1;
    for _ in 0..MAX_PASSES {
        let mut changed = false;
        for knob in knobs() {
            if knob.forecast_only && base.spec.forecast.is_none() {
                continue;
            }
            for &v in &knob.values {
                let mut spec = best.0.clone();
                (knob.set)(&mut spec, v, capacity);
                if spec == best.0 {
                    done();
                    continue;
                }
                let candidate = NamedPolicy {
                    spec,
                    ..base.clone()
                };
                let s = score(trace, &candidate, cfg, periods)?;
                replays += 1;
                done();
                if s.better_than(&best.1, budget_pct) {
                    best = (candidate.spec, s);
                    steps.push(Step {
                        knob: knob.name,
                        value: v,
                        score: s,
                    });
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    Ok(Tuned {
        within_budget: best.1.within(budget_pct),
        spec: best.0,
        base: base_score,
        best: best.1,
        steps,
        replays,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(cost: f64, under: f64) -> Score {
        Score {
            replica_hours: cost,
            under_provisioned_pct: under,
            worst_period_pct: under,
        }
    }

    #[test]
    fn the_budget_binds_the_worst_period_not_the_average() {
        let calm_then_bursty = Score {
            replica_hours: 800.0,
            under_provisioned_pct: 0.8,
            worst_period_pct: 1.6,
        };
        assert!(!calm_then_bursty.within(1.0));
        assert!(s(900.0, 1.0).better_than(&calm_then_bursty, 1.0));
    }

    #[test]
    fn the_worst_stretch_slides_over_period_boundaries() {
        // 300 s, three periods: stretches of 100 s. Short 10 s at 40 and 30 s
        // from 180: fixed thirds would see 20 + 10 of the second burst; a
        // stretch from 130 sees all 30.
        let short = [(40, 50), (180, 210)];
        assert_eq!(worst_stretch_pct(&short, 0, 300, 3), 30.0);
        // Two bursts 70 s apart fall in one stretch (fixed thirds: 10 and 15).
        assert_eq!(worst_stretch_pct(&[(40, 50), (120, 135)], 0, 300, 3), 25.0);
        assert_eq!(worst_stretch_pct(&[(0, 300)], 0, 300, 3), 100.0);
        assert!((worst_stretch_pct(&short, 0, 300, 1) - 40.0 / 3.0).abs() < 1e-9);
        assert_eq!(worst_stretch_pct(&[], 0, 300, 3), 0.0);
        assert_eq!(worst_stretch_pct(&short, 0, 0, 3), 0.0);
        // Edges that reach past the span count only what lies inside it.
        assert_eq!(worst_stretch_pct(&[(-50, 20), (290, 400)], 0, 300, 3), 20.0);
    }

    #[test]
    fn the_worst_stretch_is_the_brute_force_maximum() {
        // Every integer start of a 60 s stretch over 600 s, against random
        // disjoint intervals (a fixed linear congruential sequence).
        let mut x: u64 = 12345;
        let mut next = |m: i64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) % m as u64) as i64
        };
        for _ in 0..200 {
            let mut short = Vec::new();
            let mut t = next(40);
            while t < 600 {
                let len = 1 + next(30);
                short.push((t, (t + len).min(600)));
                t += len + 1 + next(80);
            }
            let brute = (0..=540)
                .map(|s0| {
                    short
                        .iter()
                        .map(|&(a, b)| (b.min(s0 + 60) - a.max(s0)).max(0))
                        .sum::<i64>()
                })
                .max()
                .unwrap_or(0);
            let got = worst_stretch_pct(&short, 0, 600, 10);
            assert!(
                (got - 100.0 * brute as f64 / 60.0).abs() < 1e-9,
                "{short:?}: {got} vs {brute}"
            );
        }
    }

    #[test]
    fn within_budget_then_cheaper_then_less_short() {
        let budget = 1.0;
        assert!(s(900.0, 0.5).better_than(&s(800.0, 1.5), budget));
        assert!(s(800.0, 0.9).better_than(&s(900.0, 0.1), budget));
        assert!(s(990.0, 1.2).better_than(&s(800.0, 3.0), budget));
        assert!(
            !s(800.0, 0.5).better_than(&s(800.0, 0.5), budget),
            "ties keep the first"
        );
        assert!(
            s(800.0, 1.0).better_than(&s(800.0, 1.01), budget),
            "the budget is inclusive"
        );
    }

    #[test]
    fn knobs_set_what_they_name() {
        let mut spec: PolicySpec = serde_saphyr::from_str(
            "maxReplicas: 10\nmetrics:\n  - type: External\n    external: {metric: {name: load}, target: {type: AverageValue, averageValue: \"80\"}}\n",
        )
        .unwrap();
        for k in knobs() {
            (k.set)(&mut spec, k.values[1], 100.0);
        }
        let down = spec.behavior.as_ref().unwrap().scale_down.as_ref().unwrap();
        assert_eq!(down.stabilization_window_seconds, Some(30));
        assert_eq!(down.tolerance.as_ref().map(Quantity::milli), Some(50));
        assert_eq!(down.policies.as_ref().unwrap()[0].value, 10);
        let up = spec.behavior.as_ref().unwrap().scale_up.as_ref().unwrap();
        assert_eq!(up.tolerance.as_ref().map(Quantity::milli), Some(20));
        let t = &spec.metrics[0].external.as_ref().unwrap().target;
        assert_eq!(t.average_value.as_ref().map(Quantity::milli), Some(45_000));
        assert!(spec.forecast.is_none(), "no forecast is invented");
    }
}
