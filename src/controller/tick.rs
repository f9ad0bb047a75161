//! Deciding one tick of one target from its gathered inputs (the history
//! kept in memory merged with the one persisted on the target, the forecast
//! stepped), and what became of it: on the leader, when the count changes and
//! nothing forbids it, the write (see `write`) decides again on what it reads.

use std::borrow::Cow;
use std::time::Instant;

use kube::api::DynamicObject;
use kube::core::ApiResource;

use super::actuate::{Actuator, PAUSED};
use super::history::{self, ANNOTATION};
use super::objects::annotation;
use super::telemetry::Metrics;
use crate::decide::{decide, ControllerConfig, Decision, DecisionInput, History, Time};
use crate::policy::ScalingPolicy;

/// What became of a tick's decision.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Desired equals current: nothing to write.
    Unchanged,
    /// Not the leader: decided (warm standby) but not written.
    Standby,
    DryRun,
    Paused,
    /// An HPA scales the same target.
    RefusedHpa(String),
    Written {
        from: i32,
        to: i32,
    },
    /// Every attempt met a conflict, or the write failed.
    Failed(String),
}

/// The record of one tick (`--decisions`, one JSON line each).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    #[serde(serialize_with = "crate::records::serialize_time")]
    pub time: Time,
    pub target: String,
    pub identity: String,
    pub leader: bool,
    pub action: Action,
    pub decision: Decision,
    /// What the HPA that also scales the target decided (shadow mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hpa: Option<super::shadow::HpaView>,
    /// The policy's forecast this tick, and whether the gate trusted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<super::board::ForecastView>,
}

/// Everything a tick reads besides the target's own state.
pub struct TickContext<'a> {
    pub now: Time,
    pub identity: &'a str,
    pub leader: bool,
    pub dry_run: bool,
    pub actuator: &'a Actuator,
    pub metrics: &'a Metrics,
    pub leadership: &'a super::leader::Leadership,
}

/// The inputs of one target gathered from the watches and the features.
pub struct Gathered<'a> {
    pub key: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub policy: &'a ScalingPolicy,
    /// The target's kind.
    pub resource: &'a ApiResource,
    /// The target as watched (its annotations: history, pause).
    pub object: &'a DynamicObject,
    /// Its `/scale` as last read.
    pub scale: &'a super::targets::ScaleRead,
    pub pods: Vec<crate::decide::Pod>,
    /// Each metric of the policy as its source observed it.
    pub observed: Vec<crate::sources::Observed>,
    /// Burst mode: the policy's stream metrics over the short window.
    pub burst: Vec<crate::decide::Observation>,
    /// The HPA that also scales the target: what it decided (shadow mode).
    pub hpa: Option<super::shadow::HpaView>,
}

/// Runs one tick; returns the record and the history to keep.
pub async fn tick(
    ctx: &TickContext<'_>,
    g: &Gathered<'_>,
    own: &History,
    forecast: Option<&mut super::forecast::ForecastState>,
) -> (Record, History) {
    let started = Instant::now();
    let persisted = annotation(&g.object.metadata, ANNOTATION).and_then(|v| {
        history::decode(v)
            .map_err(
                |e| tracing::warn!(target = %g.key, error = %e, "ignoring the persisted history"),
            )
            .ok()
    });
    let before = match &persisted {
        Some(p) => history::merge(own, p, ctx.now),
        None => own.clone(),
    };
    let (spec_replicas, status_replicas) = (g.scale.replicas, g.scale.status_replicas);
    let observations: Vec<_> = g.observed.iter().map(|o| o.observation.clone()).collect();
    for o in &observations {
        if let Some(v) = o.values.first().copied().or(o.value) {
            ctx.metrics
                .observed
                .with_label_values(&[g.key, o.name.as_str()])
                .set(v as f64 / 1000.0);
        }
    }
    let mut seen = None;
    let forecast = forecast.and_then(|fs| {
        let out = fs.step(ctx.now.timestamp(), &observations);
        ctx.metrics
            .forecast_fallback
            .with_label_values(&[g.key])
            .set(i64::from(fs.gated()));
        for (score, v) in [("mape_percent", fs.mape()), ("loss_ratio", fs.loss_ratio())] {
            if let Some(v) = v {
                ctx.metrics
                    .forecast_error
                    .with_label_values(&[g.key, score])
                    .set(v);
            }
        }
        seen = out.as_ref().map(|(_, ahead)| super::board::ForecastView {
            value: *ahead,
            gated: fs.gated(),
            mape_percent: fs.mape(),
            loss_ratio: fs.loss_ratio(),
        });
        out
    });
    let forecast = forecast.map(|(f, ahead)| {
        if let Some(o) = observations.first() {
            ctx.metrics
                .forecast
                .with_label_values(&[g.key, o.name.as_str()])
                .set(ahead);
        }
        f
    });
    let run = |current: i32, status: i32| {
        let input = DecisionInput {
            now: ctx.now,
            policy: &g.policy.spec,
            controller: ControllerConfig::default(),
            current_replicas: current,
            status_replicas: status,
            pods: Cow::Borrowed(&g.pods),
            observations: observations.clone(),
            raw_recommendation: None,
            explain: true,
            forecast: forecast.clone(),
            burst: g.burst.clone(),
        };
        let t = Instant::now();
        let d = decide(&input, before.clone());
        ctx.metrics
            .decision_seconds
            .observe(t.elapsed().as_secs_f64());
        d
    };
    let paused = annotation(&g.object.metadata, PAUSED) == Some("true");
    let writer = ctx.leader && !ctx.dry_run;
    let mut decision = run(spec_replicas, status_replicas);
    let action = if decision.desired_replicas == decision.current_replicas {
        // Nothing to write on the `/scale` gathered (current while the watch
        // shows no change to the object, see `gather`): no request at all.
        Action::Unchanged
    } else if !writer || paused || g.hpa.is_some() {
        if ctx.dry_run {
            Action::DryRun
        } else if !ctx.leader {
            Action::Standby
        } else if paused {
            Action::Paused
        } else {
            Action::RefusedHpa(g.hpa.as_ref().map(|h| h.name.clone()).unwrap_or_default())
        }
    } else {
        let (d, action) = super::write::actuate(ctx, g, &run, started).await;
        decision = d;
        action
    };
    let direction = match decision.desired_replicas.cmp(&decision.current_replicas) {
        std::cmp::Ordering::Greater => "up",
        std::cmp::Ordering::Less => "down",
        std::cmp::Ordering::Equal => "none",
    };
    let m = ctx.metrics;
    m.decisions.with_label_values(&[g.key, direction]).inc();
    m.desired
        .with_label_values(&[g.key])
        .set(i64::from(decision.desired_replicas));
    m.current
        .with_label_values(&[g.key])
        .set(i64::from(decision.current_replicas));
    // Scale events count only when written; standbys take them from the annotation.
    let mut keep = decision.history.clone();
    if !matches!(action, Action::Written { .. }) {
        keep.scale_up_events = before.scale_up_events.clone();
        keep.scale_down_events = before.scale_down_events.clone();
    }
    let record = Record {
        time: ctx.now,
        target: g.key.to_string(),
        identity: ctx.identity.to_string(),
        leader: ctx.leader,
        action,
        decision,
        hpa: g.hpa.clone(),
        forecast: seen,
    };
    (record, history::compact(&keep, ctx.now))
}

/// Converts the watched pods.
pub fn pods_of(pods: &[std::sync::Arc<super::watched_pod::WatchedPod>]) -> Vec<crate::decide::Pod> {
    pods.iter().map(|p| p.pod.clone()).collect()
}
