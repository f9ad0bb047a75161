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
                        detail.push(format!("value {v}"));
                    }
                    if let Some(ratio) = p.ratio {
                        detail.push(format!("ratio {ratio:.3}"));
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
