//! One target's tick as a task of its own, so that one target's slow or
//! failing API calls delay no other: it owns the target's state for the
//! length of the tick (history, forecast, last `/scale` read, what was
//! logged), gathers, decides and — on the leader — writes under a deadline,
//! and hands the state back whatever happens.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::core::ApiResource;
use tracing::Instrument;

use super::actuate::{Actuator, PAUSED};
use super::cluster::View;
use super::forecast::ForecastState;
use super::gather::{self, Subject};
use super::index::PodSelector;
use super::leader::Leadership;
use super::objects::annotation;
use super::targets::ScaleRead;
use super::telemetry::Metrics;
use super::tick::{self, Record, TickContext};
use crate::decide::History;
use crate::policy::ScalingPolicy;
use crate::sources::Registry;

/// What every tick shares.
pub struct Services {
    pub client: kube::Client,
    pub actuator: Actuator,
    pub registry: Registry,
    pub metrics: Arc<Metrics>,
    pub identity: String,
    pub dry_run: bool,
}

/// A target's state between its ticks.
#[derive(Default)]
pub struct TargetState {
    pub history: History,
    pub forecast: Option<ForecastState>,
    /// The policy generation the forecast model was loaded for.
    pub forecast_generation: Option<u64>,
    /// The last `/scale` read and when it was made (see `gather`).
    pub scale: Option<(ScaleRead, Instant)>,
    /// Its selector's text and, when it parses, the selector (valid while
    /// the text is the same).
    pub selector: Option<(String, Option<PodSelector>)>,
    /// Each metric's last reason for being missing.
    pub missing: HashMap<String, &'static str>,
    /// Conditions logged once until they clear.
    pub warned: BTreeSet<&'static str>,
}

impl TargetState {
    /// True the first time `what` is noted (until it is removed).
    pub fn warn_once(&mut self, what: &'static str) -> bool {
        self.warned.insert(what)
    }
}

/// One tick to run.
pub struct Job {
    pub key: String,
    pub policy: Arc<ScalingPolicy>,
    pub resource: ApiResource,
    /// The Lease the target is written under (the leader's, or its shard's).
    pub leadership: Leadership,
    /// When the tick was due (tick lag is measured from here).
    pub due: Instant,
    pub view: Arc<View>,
    pub state: TargetState,
    /// The tick is abandoned (and its state kept as it was) after this long.
    pub deadline: Duration,
}

/// What a tick hands back.
pub struct Done {
    pub key: String,
    pub state: TargetState,
    pub outcome: Outcome,
}

pub enum Outcome {
    Ticked {
        record: Box<Record>,
        kind: String,
        ready: i32,
        paused: bool,
        min_replicas: i32,
        max_replicas: i32,
    },
    /// Nothing to decide on (logged).
    Skipped,
    /// The deadline passed first (logged and counted).
    Abandoned,
}

/// Runs one tick of `job` to its end or its deadline.
pub async fn run(svc: Arc<Services>, mut job: Job) -> Done {
    let outcome = match tokio::time::timeout(job.deadline, one(&svc, &mut job)).await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::warn!(target = %job.key, deadline_s = job.deadline.as_secs_f64(), "the tick took longer than its deadline and was abandoned");
            svc.metrics
                .ticks_abandoned
                .with_label_values(&["deadline"])
                .inc();
            Outcome::Abandoned
        }
    };
    Done {
        key: job.key,
        state: job.state,
        outcome,
    }
}

async fn one(svc: &Services, job: &mut Job) -> Outcome {
    let now = chrono::Utc::now();
    let leader = job.leadership.is_leader();
    let writer = leader && !svc.dry_run;
    let Some((ns, name)) = job.key.split_once('/') else {
        return Outcome::Skipped;
    };
    let subject = Subject {
        key: &job.key,
        namespace: ns,
        name,
        policy: &job.policy,
        resource: &job.resource,
    };
    let state = &mut job.state;
    let Some(inputs) = gather::gather(svc, &job.view, &subject, state, now).await else {
        return Outcome::Skipped;
    };
    let gather::Inputs {
        object,
        scale,
        pods,
        hpa,
        observed,
        burst,
        health,
    } = inputs;
    // The leader records source health on the target, for `status` and
    // `kubectl describe`.
    for (metric, why) in health.iter().filter(|_| writer) {
        let (warning, reason, note) = match why {
            Some(w) => (
                true,
                "MetricMissing",
                format!("metric {metric} is missing: {w}"),
            ),
            None => (
                false,
                "MetricRecovered",
                format!("metric {metric} is observed again"),
            ),
        };
        let event = svc
            .actuator
            .event(&job.resource, &object, warning, reason, note);
        if let Err(e) = event.await {
            tracing::warn!(error = %e, "could not record the Event");
        }
    }
    let ready = if pods.is_empty() {
        scale.status_replicas
    } else {
        let ready = pods.iter().filter(|p| p.ready == Some(true) && !p.deleted);
        ready.count() as i32
    };
    let gathered = tick::Gathered {
        key: &job.key,
        namespace: ns,
        name,
        policy: &job.policy,
        resource: &job.resource,
        object: &object,
        scale: &scale,
        pods,
        observed,
        burst,
        hpa,
    };
    let ctx = TickContext {
        now,
        identity: &svc.identity,
        leader,
        dry_run: svc.dry_run,
        actuator: &svc.actuator,
        metrics: &svc.metrics,
        leadership: &job.leadership,
    };
    let span = tracing::info_span!("tick", target = %job.key, leader);
    let (record, kept) = tick::tick(&ctx, &gathered, &state.history, state.forecast.as_mut())
        .instrument(span)
        .await;
    state.history = kept;
    let lag = job.due.elapsed().as_secs_f64();
    svc.metrics.tick_lag_seconds.observe(lag);
    if let (Some(h), true) = (gathered.hpa.as_ref().map(|h| &h.name), writer) {
        if state.warn_once("hpa") {
            tracing::warn!(target = %job.key, hpa = %h, "refusing to scale: an HPA also scales this target");
            let msg = format!("scalepilot will not scale this {}: HorizontalPodAutoscaler {h} also scales it (two autoscalers fight)", job.resource.kind);
            let event = svc
                .actuator
                .event(&job.resource, &object, true, "HPAConflict", msg);
            if let Err(e) = event.await {
                tracing::warn!(error = %e, "could not record the Event");
            }
        }
    }
    Outcome::Ticked {
        record: Box::new(record),
        kind: job.resource.kind.clone(),
        ready,
        paused: annotation(&object.metadata, PAUSED) == Some("true"),
        min_replicas: job.policy.spec.min_replicas(),
        max_replicas: job.policy.spec.max_replicas,
    }
}
