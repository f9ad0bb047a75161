//! The ticks in flight: each due target's tick started as a task of its own
//! (as many at once as the schedule allows) with the target's state, and the
//! state taken back when the task ends — done, past its deadline, or even
//! panicked (then the target starts over from its annotations).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::{Id, JoinError, JoinSet};

use super::cluster::Cluster;
use super::forecast;
use super::leader::Leadership;
use super::policies::PolicySet;
use super::schedule::Schedule;
use super::targets::Kinds;
use super::telemetry::Metrics;
use super::worker::{self, Done, Job, Services, TargetState};

/// A tick is abandoned after its interval, but never sooner than this.
const MIN_DEADLINE: Duration = Duration::from_secs(10);

/// How often a policy's target ticks.
fn interval(p: &crate::policy::ScalingPolicy, default_tick: Duration) -> Duration {
    let s = p.spec.tick_seconds;
    s.map_or(default_tick, |s| Duration::from_secs(s.max(1) as u64))
}

pub struct Ticks {
    pub schedule: Schedule,
    pub running: JoinSet<Done>,
    /// Which target each running task ticks.
    tasks: HashMap<Id, String>,
    /// The state of targets not ticking right now.
    states: HashMap<String, TargetState>,
    /// Bumped when the policies change: forecast models load again.
    generation: u64,
}

impl Ticks {
    pub fn new(limit: usize) -> Self {
        Ticks {
            schedule: Schedule::new(limit),
            running: JoinSet::new(),
            tasks: HashMap::new(),
            states: HashMap::new(),
            generation: 0,
        }
    }

    /// The policies in force (at start, and whenever they change): new
    /// targets are due at once, those gone are forgotten, and every forecast
    /// model loads again.
    pub fn follow(&mut self, policies: &PolicySet, default_tick: Duration) {
        let in_force = policies.policies();
        let every = in_force
            .iter()
            .map(|(k, p)| (k.as_str(), interval(p, default_tick)));
        self.schedule.follow(every, Instant::now());
        self.states.retain(|k, _| in_force.contains_key(k));
        self.generation += 1;
    }

    /// Starts the ticks that are due among the targets `owner` gives a
    /// Lease to write under (None: not this replica's).
    pub fn start(
        &mut self,
        svc: &Arc<Services>,
        policies: &PolicySet,
        owner: &dyn Fn(&str) -> Option<Leadership>,
        kinds: &Kinds,
        cluster: &Cluster,
        default_tick: Duration,
    ) {
        let due = self.schedule.start(Instant::now(), |k| owner(k).is_some());
        if due.is_empty() {
            return;
        }
        let view = cluster.view();
        for (key, due) in due {
            let Some(policy) = policies.policies().get(&key) else {
                self.schedule.finished(&key);
                continue;
            };
            let Some(leadership) = owner(&key) else {
                self.schedule.finished(&key);
                continue;
            };
            let resolved = policy.spec.target.as_ref().and_then(|t| kinds.get(t));
            let Some(Ok(resource)) = resolved else {
                // Not resolved yet, or unscalable (logged when resolved).
                self.schedule.finished(&key);
                continue;
            };
            let mut state = self.states.remove(&key).unwrap_or_default();
            if state.forecast_generation != Some(self.generation) {
                state.forecast_generation = Some(self.generation);
                let spec = policy.spec.forecast.as_ref();
                state.forecast = forecast::load(policies.source(&key), spec).unwrap_or_else(|e| {
                    tracing::error!(target = %key, error = %e, "forecast model not loaded: the policy stays reactive");
                    svc.metrics.policy_errors.inc();
                    None
                });
            }
            let job = Job {
                key: key.clone(),
                policy: Arc::clone(policy),
                resource: resource.clone(),
                leadership,
                due,
                view: Arc::clone(&view),
                state,
                deadline: interval(policy, default_tick).max(MIN_DEADLINE),
            };
            let task = self.running.spawn(worker::run(Arc::clone(svc), job));
            self.tasks.insert(task.id(), key);
        }
    }

    /// Takes back what a task handed back; None when it panicked (counted
    /// and logged: the target starts over).
    pub fn finished(
        &mut self,
        ended: Result<(Id, Done), JoinError>,
        metrics: &Metrics,
    ) -> Option<Done> {
        let id = match &ended {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        let key = self.tasks.remove(&id);
        if let Some(k) = &key {
            self.schedule.finished(k);
        }
        match ended {
            Ok((_, mut done)) => {
                let state = std::mem::take(&mut done.state);
                if self.schedule.knows(&done.key) {
                    self.states.insert(done.key.clone(), state);
                }
                Some(done)
            }
            Err(e) => {
                tracing::error!(target = ?key, error = %e, "the tick failed: the target starts over from its annotations");
                metrics.ticks_abandoned.with_label_values(&["panic"]).inc();
                None
            }
        }
    }
}
