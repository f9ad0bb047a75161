//! The decision as it is reported: the steps with their reasons, the HPA
//! conditions, and a human-readable rendering of both.

use std::fmt::Write;

use serde::Serialize;

use super::history::History;
use super::proposals::Proposal;

/// Whether a decision spells out its messages. Replays that keep only the
/// numbers skip the formatting; everything else is computed the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Explain(pub bool);

impl Explain {
    /// `f()` when explaining, else an empty message.
    pub fn msg(self, f: impl FnOnce() -> String) -> String {
        if self.0 {
            f()
        } else {
            String::new()
        }
    }

    pub fn step(
        self,
        step: &'static str,
        replicas: i32,
        reason: &'static str,
        f: impl FnOnce() -> String,
    ) -> Step {
        Step {
            step,
            replicas,
            reason,
            message: self.msg(f),
        }
    }

    pub fn condition(
        self,
        condition_type: &'static str,
        status: bool,
        reason: &'static str,
        f: impl FnOnce() -> String,
    ) -> Condition {
        Condition {
            condition_type,
            status: if status { "True" } else { "False" },
            reason,
            message: self.msg(f),
        }
    }
}

/// One step of the chain: the replica count after it and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub replicas: i32,
    pub reason: &'static str,
    pub message: String,
}

/// An HPA status condition (AbleToScale, ScalingActive, ScalingLimited).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Condition {
    #[serde(rename = "type")]
    pub condition_type: &'static str,
    pub status: &'static str,
    pub reason: &'static str,
    pub message: String,
}

/// Everything one decision produced.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub desired_replicas: i32,
    pub current_replicas: i32,
    pub proposals: Vec<Proposal>,
    pub steps: Vec<Step>,
    pub conditions: Vec<Condition>,
    /// The HPA's rescale reason (`cpu resource utilization … above target`,
    /// `All metrics below target`, …) when the count changes.
    pub rescale_reason: Option<String>,
    pub history: History,
    pub error: Option<String>,
}

impl Decision {
    /// The step that last changed the replica count, if any did.
    pub fn deciding_step(&self) -> Option<&Step> {
        let mut prev = self.current_replicas;
        let mut deciding = None;
        for s in &self.steps {
            if s.replicas != prev {
                deciding = Some(s);
            }
            prev = s.replicas;
        }
        deciding
    }

    /// A human-readable explanation.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let change = match self.desired_replicas.cmp(&self.current_replicas) {
            std::cmp::Ordering::Greater => "scale up",
            std::cmp::Ordering::Less => "scale down",
            std::cmp::Ordering::Equal => "no change",
        };
        let _ = writeln!(
            out,
            "desired replicas: {} (current {}, {change})",
            self.desired_replicas, self.current_replicas
        );
        if let Some(e) = &self.error {
            let _ = writeln!(out, "error: {e}");
        }
        if !self.proposals.is_empty() {
            let _ = writeln!(out, "\nproposals:");
        }
        for p in &self.proposals {
            match (&p.error, p.replicas) {
                (Some(e), _) => {
                    let _ = writeln!(out, "  {}: invalid: {e}", p.metric);
                }
                (None, Some(r)) => {
                    let mut detail = Vec::new();
                    if let Some(u) = p.utilization_percent {
                        detail.push(format!("utilization {u}%"));
                    }
                    if let Some(v) = &p.raw_value {
                        detail.push(format!("value {}", readable_value(v)));
                    }
                    if let Some(ratio) = p.ratio {
                        detail.push(format!("ratio {ratio:.3}"));
                    }
                    if let Some(adjusted) = p.adjusted_ratio {
                        detail.push(format!(
                            "{adjusted:.3} once pods without metrics or not ready were counted \
                             (at the target for a scale-down, at zero for a scale-up)"
                        ));
                    }
                    match p.pods_counted {
                        Some(n) if (n as i64) < i64::from(self.current_replicas) => {
                            detail.push(format!(
                                "from {n} pods: the other {} of the {} current replicas \
                                 were not listed, not ready or without metrics",
                                i64::from(self.current_replicas) - n as i64,
                                self.current_replicas
                            ));
                        }
                        _ => {}
                    }
                    if p.within_tolerance == Some(true) {
                        detail.push("within tolerance".into());
                    }
                    let _ = writeln!(out, "  {}: {r} replicas ({})", p.metric, detail.join(", "));
                }
                (None, None) => {}
            }
        }
        let _ = writeln!(out, "\nsteps:");
        let deciding = self.deciding_step().map(|s| s.step);
        for s in &self.steps {
            let mark = if Some(s.step) == deciding {
                " <- decided"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {:<13} {:>5}  {}: {}{mark}",
                s.step, s.replicas, s.reason, s.message
            );
        }
        let _ = writeln!(out, "\nconditions:");
        for c in &self.conditions {
            let _ = writeln!(
                out,
                "  {}={} {}: {}",
                c.condition_type, c.status, c.reason, c.message
            );
        }
        out
    }
}

/// A quantity as a reader says it: `102500m` is `102.5 (102500m)`; a whole
/// number stays as it is.
fn readable_value(text: &str) -> String {
    match crate::quantity::Quantity::parse(text) {
        Ok(q) if q.milli() % 1000 != 0 => {
            let whole = q.milli() / 1000;
            let frac = format!("{:03}", (q.milli() % 1000).unsigned_abs());
            let sign = if q.milli() < 0 && whole == 0 { "-" } else { "" };
            format!("{sign}{whole}.{} ({text})", frac.trim_end_matches('0'))
        }
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn milli_quantities_read_as_decimals() {
        assert_eq!(super::readable_value("102500m"), "102.5 (102500m)");
        assert_eq!(super::readable_value("800m"), "0.8 (800m)");
        assert_eq!(super::readable_value("-250m"), "-0.25 (-250m)");
        assert_eq!(super::readable_value("1001m"), "1.001 (1001m)");
        assert_eq!(super::readable_value("25"), "25");
        assert_eq!(super::readable_value("2k"), "2k");
    }
}
