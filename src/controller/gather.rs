//! Gathering one target's inputs for its tick: the object, its Pods and the
//! HPA that may also scale it from the watches, its `/scale` (read again only
//! when the object changed or the read is older than [`SCALE_MAX_AGE`]), each
//! metric from its source, and which metrics went missing or came back since
//! the last tick.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// How long a `/scale` read stands for the target while its watched object
/// keeps the resourceVersion read: the HPA's sync period. The watch tells
/// when the object changes; reading again this often bounds what a watch
/// that silently stopped could hide. (Before a write it is read fresh anyway.)
pub const SCALE_MAX_AGE: Duration = Duration::from_secs(15);

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
    let scale = match standing(&state.scale, rv, Instant::now()) {
        Some(c) => c.clone(),
        None => match read_scale(&svc.client, s.resource, s.namespace, s.name).await {
            Ok(read) => state.scale.insert((read, Instant::now())).0.clone(),
            Err(e) => {
                tracing::warn!(target = %s.key, error = %e, "reading /scale failed; the tick is skipped");
                return None;
            }
        },
    };
    let hpa = view
        .hpa_for(s.resource, s.namespace, s.name)
        .map(|h| HpaView::of(&h));
    let parse = |t: &str| selector::parse(t).map(PodSelector::new);
    match refresh_selector(&mut state.selector, scale.selector.as_deref(), parse) {
        Refreshed::Same => {}
        Refreshed::Parsed => {
            state.warned.remove("selector");
        }
        Refreshed::Failed(e) => {
            if state.warn_once("selector") {
                tracing::error!(target = %s.key, error = %e, "the /scale selector is not understood: no pods are counted");
            }
        }
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

/// The `/scale` read held, if it still stands for the object at
/// resourceVersion `rv`: read at that version, less than [`SCALE_MAX_AGE`]
/// before `now`.
fn standing<'a>(
    held: &'a Option<(ScaleRead, Instant)>,
    rv: Option<&str>,
    now: Instant,
) -> Option<&'a ScaleRead> {
    let (read, at) = held.as_ref()?;
    let young = now.saturating_duration_since(*at) < SCALE_MAX_AGE;
    (young && rv == Some(read.resource_version.as_str())).then_some(read)
}

/// What [`refresh_selector`] did.
#[derive(Debug, PartialEq)]
enum Refreshed<E> {
    /// The text was the one held: nothing parsed.
    Same,
    /// A new text (or none) was taken.
    Parsed,
    /// A new text did not parse: it is held with no selector, so no pods are
    /// counted and it is not parsed again until it changes.
    Failed(E),
}

/// Keeps `held` (the last `/scale` selector text and its parsed selector) in
/// step with `text`, parsing only a text that differs from the one held.
fn refresh_selector<E>(
    held: &mut Option<(String, Option<PodSelector>)>,
    text: Option<&str>,
    parse: impl FnOnce(&str) -> Result<PodSelector, E>,
) -> Refreshed<E> {
    if held.as_ref().map(|(t, _)| t.as_str()) == text {
        return Refreshed::Same;
    }
    let Some(t) = text else {
        *held = None;
        return Refreshed::Parsed;
    };
    match parse(t) {
        Ok(sel) => {
            *held = Some((t.to_string(), Some(sel)));
            Refreshed::Parsed
        }
        Err(e) => {
            *held = Some((t.to_string(), None));
            Refreshed::Failed(e)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses with the controller's parser, counting the calls.
    fn counting(calls: &mut u32) -> impl FnOnce(&str) -> Result<PodSelector, String> + '_ {
        move |t| {
            *calls += 1;
            selector::parse(t)
                .map(PodSelector::new)
                .map_err(|e| e.to_string())
        }
    }

    #[test]
    fn a_scale_read_stands_while_the_object_is_unchanged_and_for_15_s_at_most() {
        let t0 = Instant::now();
        let read = ScaleRead {
            replicas: 3,
            status_replicas: 3,
            selector: None,
            resource_version: "42".into(),
        };
        let held = Some((read, t0));
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(standing(&held, Some("42"), at(0)).is_some());
        assert!(standing(&held, Some("42"), at(14)).is_some());
        assert!(
            standing(&held, Some("42"), at(15)).is_none(),
            "read again at 15 s"
        );
        assert!(
            standing(&held, Some("43"), at(1)).is_none(),
            "the object changed"
        );
        assert!(
            standing(&held, None, at(1)).is_none(),
            "no version to match"
        );
        assert!(standing(&None, Some("42"), at(1)).is_none());
    }

    #[test]
    fn a_selector_is_parsed_once_per_text_and_a_bad_one_selects_nothing() {
        let mut held = None;
        let mut calls = 0;
        let bad = "app in (web";
        let r = refresh_selector(&mut held, Some(bad), counting(&mut calls));
        assert!(matches!(r, Refreshed::Failed(_)), "{r:?}");
        assert!(
            matches!(&held, Some((t, None)) if t == bad),
            "held with no selector"
        );
        for _ in 0..3 {
            let r = refresh_selector(&mut held, Some(bad), counting(&mut calls));
            assert_eq!(r, Refreshed::Same);
        }
        assert_eq!(calls, 1, "the same bad text is not parsed again");

        let good = "app=web";
        let r = refresh_selector(&mut held, Some(good), counting(&mut calls));
        assert_eq!(r, Refreshed::Parsed);
        assert!(matches!(&held, Some((t, Some(_))) if t == good));
        let r = refresh_selector(&mut held, Some(good), counting(&mut calls));
        assert_eq!(r, Refreshed::Same);
        assert_eq!(calls, 2);

        let r = refresh_selector(&mut held, None, counting(&mut calls));
        assert_eq!(r, Refreshed::Parsed);
        assert!(held.is_none(), "no selector text, no selector");
        assert_eq!(calls, 2, "nothing to parse");
    }
}
