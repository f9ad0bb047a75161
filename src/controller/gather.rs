//! Gathering one target's inputs for its tick: the object, its Pods and the
//! HPA that may also scale it from the watches, its `/scale` (read again only
//! when the object changed), each metric from its source, and which metrics
//! went missing or came back since the last tick.

use std::collections::HashMap;
use std::sync::Arc;

use kube::api::DynamicObject;
use kube::core::ApiResource;

use super::cluster::View;
use super::index::PodSelector;
use super::shadow::HpaView;
use super::targets::{read_scale, ScaleRead};
use super::telemetry::Metrics;
use super::worker::{Services, TargetState};
use super::{selector, tick};
use crate::decide::{Observation, Pod, Time};
use crate::policy::ScalingPolicy;
use crate::sources::{Observed, Target};

/// What one tick of one target reads.
pub struct Inputs {
    pub object: Arc<DynamicObject>,
    pub scale: ScaleRead,
    pub pods: Vec<Pod>,
    pub hpa: Option<HpaView>,
    pub observed: Vec<Observed>,
    /// Burst mode: the policy's stream metrics over the short window.
    pub burst: Vec<Observation>,
    /// Metrics that went missing (with why) or came back (None) this tick.
    pub health: Vec<(String, Option<String>)>,
}

/// Who and what a tick is about.
pub struct Subject<'a> {
    pub key: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub policy: &'a ScalingPolicy,
    pub resource: &'a ApiResource,
}

/// The target's inputs, or None when the tick cannot run (the target does
/// not exist, or its `/scale` cannot be read: both logged).
pub async fn gather(
    svc: &Services,
    view: &View,
    s: &Subject<'_>,
    state: &mut TargetState,
    now: Time,
) -> Option<Inputs> {
    let Some(object) = view.target(s.resource, s.namespace, s.name) else {
        if state.warn_once("missing") {
            tracing::warn!(target = %s.key, kind = %s.resource.kind, "the target does not exist (yet)");
        }
        return None;
    };
    state.warned.remove("missing");
    let rv = object.metadata.resource_version.as_deref();
    let cached = state
        .scale
        .as_ref()
        .filter(|c| rv.is_some_and(|rv| c.resource_version == rv));
    let scale = match cached {
        Some(c) => c.clone(),
        None => match read_scale(&svc.client, s.resource, s.namespace, s.name).await {
            Ok(read) => state.scale.insert(read).clone(),
            Err(e) => {
                tracing::warn!(target = %s.key, error = %e, "reading /scale failed; the tick is skipped");
                return None;
            }
        },
    };
    let hpa = view
        .hpa_for(s.resource, s.namespace, s.name)
        .map(|h| HpaView::of(&h));
    let text = scale.selector.as_deref();
    if state.selector.as_ref().map(|(t, _)| t.as_str()) != text {
        // A text that does not parse is kept too (with no selector), so it
        // is not parsed again on every tick until it changes.
        state.selector = text.map(|t| match selector::parse(t) {
            Ok(sel) => (t.to_string(), Some(PodSelector::new(sel))),
            Err(e) => {
                if state.warn_once("selector") {
                    tracing::error!(target = %s.key, error = %e, "the /scale selector is not understood: no pods are counted");
                }
                (t.to_string(), None)
            }
        });
    }
    let pods = match &state.selector {
        Some((_, Some(sel))) => tick::pods_of(&view.pods(s.namespace, sel)),
        _ => Vec::new(),
    };
    let target = Target {
        key: s.key,
        namespace: s.namespace,
        name: s.name,
        selector: scale.selector.as_deref(),
    };
    let observed = svc.registry.observe(&target, &s.policy.spec, now).await;
    let burst = svc
        .registry
        .observe_refreshed(&target, &s.policy.spec.burst_metrics(), now)
        .into_iter()
        .map(|o| o.observation)
        .collect();
    let health = note_missing(&svc.metrics, s.key, &observed, &mut state.missing);
    Some(Inputs {
        object,
        scale,
        pods,
        hpa,
        observed,
        burst,
        health,
    })
}

/// Keeps `scalepilot_metric_missing` in step with the tick's observations and
/// logs each cause once: when a metric's reason changes, and when it is back.
/// `state` holds each of the target's metrics' last reason.
pub fn note_missing(
    metrics: &Metrics,
    key: &str,
    observed: &[Observed],
    state: &mut HashMap<String, &'static str>,
) -> Vec<(String, Option<String>)> {
    let mut changed = Vec::new();
    for o in observed {
        let metric = o.observation.name.clone();
        let now = o.missing.as_ref().map(|m| m.code);
        let before = state.get(&metric).copied();
        if before == now {
            continue;
        }
        if let Some(code) = before {
            let _ = metrics
                .metric_missing
                .remove_label_values(&[key, &metric, code]);
        }
        match &o.missing {
            Some(m) => {
                metrics
                    .metric_missing
                    .with_label_values(&[key, &metric, m.code])
                    .set(1);
                let source = o.source.map_or("none", |s| s.name());
                tracing::warn!(target = %key, metric = %metric, source, reason = m.code, message = %m.message, "metric missing: the decision treats it as the HPA treats a failed metric");
                state.insert(metric.clone(), m.code);
                changed.push((metric, Some(format!("{source}: {}", m.message))));
            }
            None => {
                tracing::info!(target = %key, metric = %metric, "metric observed again");
                state.remove(&metric);
                changed.push((metric, None));
            }
        }
    }
    changed
}
