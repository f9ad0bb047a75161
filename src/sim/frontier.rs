//! Frontiers: one autoscaler replayed at a sweep of targets traces cost
//! (replica-hours) against under-provisioned time (τU). Comparing two
//! autoscalers at one target each compares their targets as much as their
//! logic; comparing frontiers asks the fair questions: at the HPA's cost, how
//! often is each one short, and at the HPA's τU, what does each one cost?
//!
//! Both answers are read off the swept points themselves, never interpolated
//! between them (a frontier need not be convex): "τU at the HPA's cost" is the
//! least τU of the points that cost no more than the HPA, and "cost at the
//! HPA's τU" the least cost of the points short no more often than the HPA.

use serde::Serialize;

use super::{Baseline, NamedPolicy, SimConfig, Trace};
use crate::error::Result;
use crate::policy::{MetricSpec, MetricTarget, MetricTargetType, PolicySpec};
use crate::quantity::Quantity;

/// `--sweep FROM:TO:STEP`: targets in percent of one replica's capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sweep {
    pub from: i32,
    pub to: i32,
    pub step: i32,
}

/// The most targets one sweep may replay.
pub const MAX_SWEEP_TARGETS: usize = 50;

/// A `--sweep` that is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SweepError {
    #[error("{0:?}: expected FROM:TO:STEP in whole percent, like 60:95:5")]
    Syntax(String),
    #[error("{0:?}: targets must be from 1 % to 1000 %, FROM ≤ TO, STEP ≥ 1")]
    Range(String),
    #[error("{text:?}: {count} targets; at most {MAX_SWEEP_TARGETS} per sweep")]
    TooMany { text: String, count: usize },
}

impl std::str::FromStr for Sweep {
    type Err = SweepError;
    fn from_str(s: &str) -> Result<Self, SweepError> {
        let parts: Vec<&str> = s.split(':').collect();
        let [from, to, step] = parts[..] else {
            return Err(SweepError::Syntax(s.to_string()));
        };
        let num = |p: &str| {
            p.trim()
                .parse::<i32>()
                .map_err(|_| SweepError::Syntax(s.to_string()))
        };
        let sweep = Sweep {
            from: num(from)?,
            to: num(to)?,
            step: num(step)?,
        };
        if !(1..=1000).contains(&sweep.from)
            || !(sweep.from..=1000).contains(&sweep.to)
            || sweep.step < 1
        {
            return Err(SweepError::Range(s.to_string()));
        }
        let count = sweep.targets().len();
        if count > MAX_SWEEP_TARGETS {
            return Err(SweepError::TooMany {
                text: s.to_string(),
                count,
            });
        }
        Ok(sweep)
    }
}

impl Sweep {
    /// FROM, FROM+STEP, … up to TO (TO itself even when the steps miss it).
    pub fn targets(&self) -> Vec<i32> {
        let mut t: Vec<i32> = (self.from..=self.to).step_by(self.step as usize).collect();
        if t.last() != Some(&self.to) {
            t.push(self.to);
        }
        t
    }
}

/// `spec` aimed at `pct` % of one replica's `capacity`: utilization targets
/// become `pct`, per-replica average values `pct` % of the capacity. Value
/// targets (a total for the whole workload) are not per-replica and stay.
pub fn retarget(spec: &PolicySpec, pct: i32, capacity: f64) -> PolicySpec {
    let aim = |t: &mut MetricTarget| match t.target_type {
        Some(MetricTargetType::Utilization) => t.average_utilization = Some(pct),
        Some(MetricTargetType::AverageValue) => {
            let milli = capacity * f64::from(pct) / 100.0 * 1000.0;
            t.average_value = Some(Quantity::from_milli(milli.round() as i64));
        }
        _ => {}
    };
    let mut out = spec.clone();
    for m in &mut out.metrics {
        let MetricSpec {
            resource,
            container_resource,
            pods,
            object,
            external,
            ..
        } = m;
        [
            resource.as_mut().map(|s| &mut s.target),
            container_resource.as_mut().map(|s| &mut s.target),
            pods.as_mut().map(|s| &mut s.target),
            object.as_mut().map(|s| &mut s.target),
            external.as_mut().map(|s| &mut s.target),
        ]
        .into_iter()
        .flatten()
        .for_each(aim);
    }
    out
}

/// One autoscaler at one target.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Point {
    pub target: i32,
    pub replica_hours: f64,
    pub under_provisioned_pct: f64,
}

/// One autoscaler across the sweep, in target order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Frontier {
    pub name: String,
    pub points: Vec<Point>,
}

impl Frontier {
    /// The least τU among the points that cost at most `cost` (`None`: every
    /// point costs more).
    pub fn under_at_cost(&self, cost: f64) -> Option<f64> {
        self.points
            .iter()
            .filter(|p| p.replica_hours <= cost)
            .map(|p| p.under_provisioned_pct)
            .min_by(f64::total_cmp)
    }

    /// The least cost among the points short at most `under` % of the time
    /// (`None`: every point is short more often).
    pub fn cost_at_under(&self, under: f64) -> Option<f64> {
        self.points
            .iter()
            .filter(|p| p.under_provisioned_pct <= under)
            .map(|p| p.replica_hours)
            .min_by(f64::total_cmp)
    }

    /// The point at `target`, if swept.
    pub fn at(&self, target: i32) -> Option<&Point> {
        self.points.iter().find(|p| p.target == target)
    }
}

/// One frontier read at a reference point (the HPA at its default target).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub name: String,
    /// Its least τU at no more than the reference's cost.
    pub under_at_reference_cost: Option<f64>,
    /// Its least cost at no more than the reference's τU.
    pub cost_at_reference_under: Option<f64>,
    /// The share (%) of the reference→oracle replica-hour gap that
    /// `cost_at_reference_under` closes (negative: costlier than the reference).
    pub oracle_gap_closed_pct: Option<f64>,
}

/// `frontier` read at `reference`, with the oracle's cost when known.
pub fn compare(frontier: &Frontier, reference: &Point, oracle_cost: Option<f64>) -> Comparison {
    let cost = frontier.cost_at_under(reference.under_provisioned_pct);
    let gap = oracle_cost
        .map(|o| reference.replica_hours - o)
        .filter(|g| *g > 0.0);
    Comparison {
        name: frontier.name.clone(),
        under_at_reference_cost: frontier.under_at_cost(reference.replica_hours),
        cost_at_reference_under: cost,
        oracle_gap_closed_pct: cost
            .zip(gap)
            .map(|(c, g)| (reference.replica_hours - c) / g * 100.0),
    }
}

/// Every autoscaler's frontier, and every one read at the HPA's point.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepOutcome {
    pub targets: Vec<i32>,
    /// Load units one replica serves (targets are percent of it).
    pub capacity_per_replica: f64,
    pub frontiers: Vec<Frontier>,
    /// The HPA at `--hpa-target`, the point the others are read at.
    pub reference: Option<Point>,
    pub oracle_replica_hours: Option<f64>,
    pub comparisons: Vec<Comparison>,
}

/// Replays every policy and baseline of `cfg` at each of `targets` (and the
/// HPA's own target, the reference point), the oracle once; `done(target)`
/// after each target.
pub fn sweep(
    trace: &Trace,
    policies: &[NamedPolicy],
    cfg: &SimConfig,
    targets: &[i32],
    mut done: impl FnMut(i32),
) -> Result<SweepOutcome> {
    cfg.check()?;
    let mut targets = targets.to_vec();
    let with_hpa = cfg.baselines.contains(&Baseline::Hpa);
    if with_hpa {
        targets.push(cfg.hpa_target);
    }
    targets.sort_unstable();
    targets.dedup();
    let capacity = cfg.capacity.per_replica();
    let mut frontiers: Vec<Frontier> = Vec::new();
    let mut oracle = None;
    for (i, &target) in targets.iter().enumerate() {
        let aimed: Vec<NamedPolicy> = policies
            .iter()
            .map(|p| NamedPolicy {
                spec: retarget(&p.spec, target, capacity),
                ..p.clone()
            })
            .collect();
        let at = SimConfig {
            hpa_target: target,
            // The oracle has no target: once is enough.
            baselines: (cfg.baselines.iter().copied())
                .filter(|b| i == 0 || *b != Baseline::Oracle)
                .collect(),
            ..cfg.clone()
        };
        let outcome = super::run(trace.clone(), &aimed, &at, |_, _, _| {})?;
        for card in outcome.scorecards() {
            if card.name.starts_with("oracle") {
                oracle = Some(card.replica_hours);
                continue;
            }
            let point = Point {
                target,
                replica_hours: card.replica_hours,
                under_provisioned_pct: card.under_provisioned_pct,
            };
            match frontiers.iter_mut().find(|f| f.name == card.name) {
                Some(f) => f.points.push(point),
                None => frontiers.push(Frontier {
                    name: card.name.clone(),
                    points: vec![point],
                }),
            }
        }
        done(target);
    }
    let reference = frontiers
        .iter()
        .find(|f| with_hpa && f.name == "hpa")
        .and_then(|f| f.at(cfg.hpa_target))
        .copied();
    let comparisons = match &reference {
        Some(r) => frontiers
            .iter()
            .filter(|f| f.name != "hpa")
            .map(|f| compare(f, r, oracle))
            .collect(),
        None => Vec::new(),
    };
    Ok(SweepOutcome {
        targets,
        capacity_per_replica: capacity,
        frontiers,
        reference,
        oracle_replica_hours: oracle,
        comparisons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frontier(points: &[(i32, f64, f64)]) -> Frontier {
        Frontier {
            name: "p".into(),
            points: points
                .iter()
                .map(|&(target, replica_hours, under_provisioned_pct)| Point {
                    target,
                    replica_hours,
                    under_provisioned_pct,
                })
                .collect(),
        }
    }

    #[test]
    fn sweeps_parse_and_bad_ones_are_refused() {
        let s: Sweep = "60:95:5".parse().unwrap();
        assert_eq!(s.targets(), vec![60, 65, 70, 75, 80, 85, 90, 95]);
        let s: Sweep = "60:90:20".parse().unwrap();
        assert_eq!(s.targets(), vec![60, 80, 90], "TO is always swept");
        assert_eq!("70:70:1".parse::<Sweep>().unwrap().targets(), vec![70]);
        for bad in [
            "60:95",
            "a:b:c",
            "60:95:0",
            "95:60:5",
            "0:50:5",
            "60:2000:5",
        ] {
            assert!(bad.parse::<Sweep>().is_err(), "{bad} must be refused");
        }
        assert!(matches!(
            "1:1000:1".parse::<Sweep>(),
            Err(SweepError::TooMany { .. })
        ));
    }

    #[test]
    fn readings_take_the_best_qualifying_point_never_an_interpolation() {
        // cost falls and τU rises with the target; 75 is dominated by 80.
        let f = frontier(&[
            (60, 1200.0, 0.1),
            (70, 1000.0, 0.5),
            (75, 990.0, 2.0),
            (80, 950.0, 1.0),
            (90, 800.0, 4.0),
        ]);
        assert_eq!(f.under_at_cost(1000.0), Some(0.5));
        assert_eq!(f.under_at_cost(999.0), Some(1.0), "75 is worse than 80");
        assert_eq!(f.under_at_cost(799.0), None, "none that cheap");
        assert_eq!(f.cost_at_under(1.0), Some(950.0));
        assert_eq!(f.cost_at_under(0.4), Some(1200.0));
        assert_eq!(f.cost_at_under(0.05), None, "never that rarely short");
        assert_eq!(f.at(75).map(|p| p.replica_hours), Some(990.0));
    }

    #[test]
    fn comparison_reports_the_share_of_the_oracle_gap() {
        let f = frontier(&[(70, 1000.0, 0.5), (80, 900.0, 1.0)]);
        let hpa = Point {
            target: 80,
            replica_hours: 1100.0,
            under_provisioned_pct: 1.0,
        };
        let c = compare(&f, &hpa, Some(700.0));
        assert_eq!(c.under_at_reference_cost, Some(0.5));
        assert_eq!(c.cost_at_reference_under, Some(900.0));
        assert_eq!(c.oracle_gap_closed_pct, Some(50.0));
        let costlier = compare(&frontier(&[(80, 1300.0, 0.9)]), &hpa, Some(700.0));
        assert!(costlier.oracle_gap_closed_pct.unwrap() < 0.0);
        assert_eq!(compare(&f, &hpa, None).oracle_gap_closed_pct, None);
    }

    #[test]
    fn retarget_aims_per_replica_targets_and_keeps_totals() {
        let text = r#"
minReplicas: 1
maxReplicas: 10
metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  - type: External
    external: {metric: {name: load}, target: {type: AverageValue, averageValue: "85"}}
  - type: External
    external: {metric: {name: total}, target: {type: Value, value: "500"}}
"#;
        let spec: PolicySpec = serde_saphyr::from_str(text).unwrap();
        let r = retarget(&spec, 70, 200.0);
        let t = |i: usize| -> &MetricTarget {
            let m = &r.metrics[i];
            m.resource
                .as_ref()
                .map(|s| &s.target)
                .or(m.external.as_ref().map(|s| &s.target))
                .unwrap()
        };
        assert_eq!(t(0).average_utilization, Some(70));
        assert_eq!(
            t(1).average_value.as_ref().map(Quantity::milli),
            Some(140_000)
        );
        assert_eq!(t(2).value.as_ref().map(Quantity::milli), Some(500_000));
    }
}
