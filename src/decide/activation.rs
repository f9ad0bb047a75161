//! Scale to zero and back, with KEDA's semantics: with `minReplicas: 0` and an
//! `activation` block, the target is active while any Object or External
//! metric is above the threshold. Inactive at zero, it stays there; active at
//! zero, it gets at least one replica at once; active and scaled, the chain's
//! count stands (at least one); inactive and scaled, it goes to zero once the
//! cooldown since it was last active has passed. The step bypasses the
//! behaviour's rate limits, as KEDA's own 0↔1 scaling bypasses the HPA's.
//!
//! Where it differs from KEDA: a target with no recorded last-active time
//! (a controller that just started) waits a full cooldown before going to
//! zero; KEDA scales it to zero at once.

use super::explain::{Explain, Step};
use super::history::History;
use super::input::DecisionInput;
use crate::policy::MetricSourceType;
use crate::quantity::format_milli;

/// The activation step for the chain's `desired` count, or `None` when the
/// policy has no `activation`. Records the last-active time in `history`.
pub(super) fn activate(
    input: &DecisionInput,
    desired: i32,
    history: &mut History,
    ex: Explain,
) -> Option<(i32, Step)> {
    let spec = input.policy.activation.as_ref()?;
    let threshold = spec.threshold_milli();
    let cooldown = chrono::Duration::seconds(i64::from(spec.cooldown_s()));
    let now = input.now;
    let current = input.current_replicas;
    let peak = activation_values(input).max_by_key(|(_, v)| *v);
    let active = peak.as_ref().is_some_and(|(_, v)| *v > threshold);
    let th = format_milli(threshold);
    if active {
        history.last_active = Some(now);
        let (name, value) = peak.expect("active means a value was seen");
        let n = desired.max(1);
        let reason = if current == 0 { "Activated" } else { "Active" };
        return Some((
            n,
            ex.step("activation", n, reason, || {
                format!(
                    "{name} is {} > activation threshold {th}: active, at least 1 replica",
                    format_milli(value)
                )
            }),
        ));
    }
    if current == 0 {
        return Some((
            0,
            ex.step("activation", 0, "Inactive", || {
                format!("no Object or External metric above the activation threshold {th}: stays at zero")
            }),
        ));
    }
    let since = *history.last_active.get_or_insert(now);
    if now - since >= cooldown {
        return Some((
            0,
            ex.step("activation", 0, "CooledDown", || {
                format!(
                    "inactive (no metric above {th}) for {} s, the cooldown of {} s: scaled to zero",
                    (now - since).num_seconds(),
                    cooldown.num_seconds()
                )
            }),
        ));
    }
    let n = desired.max(1);
    Some((
        n,
        ex.step("activation", n, "CoolingDown", || {
            format!(
                "inactive (no metric above {th}) for {} s; zero after the cooldown of {} s",
                (now - since).num_seconds(),
                cooldown.num_seconds()
            )
        }),
    ))
}

/// (metric name, value in milli) of every Object and External metric
/// observed without error: the object's value, the external series' sum.
fn activation_values<'a>(input: &'a DecisionInput) -> impl Iterator<Item = (String, i64)> + 'a {
    input
        .observations
        .iter()
        .filter(|o| o.error.is_none())
        .filter_map(|o| match o.source_type {
            MetricSourceType::Object => o.value.map(|v| (o.name.clone(), v)),
            MetricSourceType::External if !o.values.is_empty() => Some((
                o.name.clone(),
                o.values.iter().fold(0i64, |a, v| a.saturating_add(*v)),
            )),
            _ => None,
        })
}
