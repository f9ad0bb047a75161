//! Burst mode, as Knative's panic mode: the policy's metrics read over a
//! short window propose a count; when it reaches `threshold` times the ready
//! replicas, the target scales up to it at once (past the behaviour's rate
//! limits, which stabilize the stable window's decisions) and, until no burst
//! has been seen for the stable window, never scales down.

use super::calculator::Tolerances;
use super::explain::{Explain, Step};
use super::history::History;
use super::input::{DecisionInput, PodPhase};
use super::proposals::{self, Combined};

/// The burst step for the chain's `desired` count, or `None` when it does
/// not act (no `burst` block, no burst now or within the stable window).
/// Records the time of a burst in `history`.
pub(super) fn burst(
    input: &DecisionInput,
    desired: i32,
    tolerances: Tolerances,
    history: &mut History,
    ex: Explain,
) -> Option<(i32, Step)> {
    let spec = input.policy.burst.as_ref()?;
    let (short_ms, stable_ms) = spec.windows_ms().ok()?;
    let now = input.now;
    let current = input.current_replicas;
    let max = input.policy.max_replicas;
    let ready = ready_replicas(input);
    let short = DecisionInput {
        observations: input.burst.clone(),
        forecast: None,
        burst: Vec::new(),
        ..input.clone()
    };
    let burst_metrics = input.policy.burst_metrics();
    let metrics = if burst_metrics.is_empty() {
        input.policy.effective_metrics().into_owned()
    } else {
        burst_metrics
    };
    let wanted = if input.burst.is_empty() {
        None
    } else {
        match proposals::propose_all(&short, &metrics, tolerances).1 {
            Combined::Valid { replicas, .. } => Some(replicas),
            Combined::Invalid { .. } => None,
        }
    };
    let threshold = spec.threshold();
    if let Some(w) = wanted.filter(|&w| f64::from(w) >= threshold * f64::from(ready.max(1))) {
        history.last_burst = Some(now);
        let n = desired.max(w).max(current).min(max);
        return Some((
            n,
            ex.step("burst", n, "BurstScaleUp", || {
                format!(
                    "the {short_ms} ms window asks for {w}, at least {threshold}× the {ready} ready: scaled to {n} at once, no scale-down for {} s",
                    stable_ms / 1000
                )
            }),
        ));
    }
    let since = history.last_burst?;
    let elapsed_ms = (now - since).num_milliseconds();
    if elapsed_ms >= stable_ms || desired >= current {
        return None;
    }
    Some((
        current,
        ex.step("burst", current, "BurstHold", || {
            format!(
                "a burst {} s ago: no scale-down until none for {} s (the chain proposed {desired})",
                elapsed_ms / 1000,
                stable_ms / 1000
            )
        }),
    ))
}

/// Ready replicas: the ready pods when pods are listed, else `status.replicas`.
fn ready_replicas(input: &DecisionInput) -> i32 {
    if input.pods.is_empty() {
        return input.status_replicas;
    }
    input
        .pods
        .iter()
        .filter(|p| p.phase == PodPhase::Running && p.is_ready() && !p.deleted)
        .count() as i32
}
