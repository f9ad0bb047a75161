//! The leader's write of one decision: `/scale` read fresh and the decision
//! made again on it, leadership and pause checked right before, the write
//! fenced by the resourceVersion read (409 Conflict: read and decide again),
//! then the annotations (last decision, history) and the Event.

use std::collections::BTreeMap;
use std::time::Instant;

use super::actuate::{LastDecision, LAST_DECISION};
use super::history::{self, ANNOTATION};
use super::tick::{Action, Gathered, TickContext};
use crate::decide::Decision;

/// Attempts to write one decision when writes conflict.
const ATTEMPTS: usize = 4;

/// The leader's write: read `/scale`, decide on what was read, write with its
/// resourceVersion; on 409 read again and decide again.
pub async fn actuate(
    ctx: &TickContext<'_>,
    g: &Gathered<'_>,
    run: &(dyn Fn(i32, i32) -> Decision + Sync),
    started: Instant,
) -> (Decision, Action) {
    let (ns, name, key) = (g.namespace, g.name, g.key);
    let m = ctx.metrics;
    let mut last_error = String::new();
    let mut last = None;
    for attempt in 0..ATTEMPTS {
        let scale = match ctx.actuator.read_scale(g.resource, ns, name).await {
            Ok(s) => s,
            Err(e) => {
                last_error = format!("reading /scale: {e}");
                break;
            }
        };
        let decision = run(scale.replicas, scale.status_replicas);
        let (from, to) = (decision.current_replicas, decision.desired_replicas);
        last = Some(decision.clone());
        if from == to {
            return (decision, Action::Unchanged);
        }
        if !ctx.leadership.is_leader() {
            // Fenced: our lease may be about to expire; the next leader writes.
            return (decision, Action::Standby);
        }
        // The watch may lag (or be relisting): read the pause fresh. A pause
        // set after this read changes the resourceVersion: the write conflicts.
        match ctx.actuator.is_paused(g.resource, ns, name).await {
            Ok(true) => return (decision, Action::Paused),
            Ok(false) => {}
            Err(e) => {
                last_error = format!("reading the {}: {e}", g.resource.kind);
                break;
            }
        }
        match ctx
            .actuator
            .write_scale(g.resource, ns, name, &scale.resource_version, to)
            .await
        {
            Ok(()) => {
                m.writes.with_label_values(&[key, "ok"]).inc();
                let latency = started.elapsed();
                tracing::info!(target = %key, from, to, attempt, tick_to_write_ms = latency.as_secs_f64() * 1000.0, "scaled");
                after_write(ctx, g, &decision, from, to).await;
                return (decision, Action::Written { from, to });
            }
            Err(kube::Error::Api(s)) if s.is_conflict() => {
                m.writes.with_label_values(&[key, "conflict"]).inc();
                tracing::info!(target = %key, attempt, "409 Conflict writing /scale: re-reading");
                last_error = "conflict on every attempt".into();
            }
            Err(e) => {
                m.writes.with_label_values(&[key, "error"]).inc();
                last_error = format!("writing /scale: {e}");
                break;
            }
        }
    }
    tracing::warn!(target = %key, error = %last_error, "decision not written");
    let decision = last.unwrap_or_else(|| run(g.scale.replicas, g.scale.status_replicas));
    (decision, Action::Failed(last_error))
}

/// The annotations and the Event that go with a write (best effort: the
/// scale itself is written; failures here are logged).
async fn after_write(ctx: &TickContext<'_>, g: &Gathered<'_>, d: &Decision, from: i32, to: i32) {
    let reason = d
        .rescale_reason
        .clone()
        .or_else(|| d.deciding_step().map(|s| s.reason.to_string()))
        .unwrap_or_default();
    let id = format!("{}@{}", g.key, ctx.now.timestamp_millis());
    let last = LastDecision {
        time: ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        replicas: to,
        from,
        reason: &reason,
        decision_id: &id,
        leader: ctx.identity,
    };
    let mut annotations = BTreeMap::new();
    annotations.insert(
        LAST_DECISION,
        serde_json::to_string(&last).unwrap_or_default(),
    );
    annotations.insert(ANNOTATION, history::encode(&d.history, ctx.now));
    if let Err(e) = ctx
        .actuator
        .annotate(g.resource, g.namespace, g.name, annotations)
        .await
    {
        tracing::warn!(target = %g.key, error = %e, "could not record the decision annotations");
    }
    let chain: Vec<String> = d
        .steps
        .iter()
        .map(|s| format!("{} {}", s.step, s.replicas))
        .collect();
    let message = format!(
        "Scaled from {from} to {to}: {reason} [{}] (decision {id})",
        chain.join(" → ")
    );
    if let Err(e) = ctx
        .actuator
        .event(g.resource, g.object, false, "Rescaled", message)
        .await
    {
        tracing::warn!(target = %g.key, error = %e, "could not record the Event");
    }
}
