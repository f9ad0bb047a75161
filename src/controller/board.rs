//! What the dashboard shows, kept by the controller as it works: per target
//! its latest tick (load against target, replicas, forecast, paused or
//! conflicting), a short series of recent ticks and the last notable
//! decisions with their reason chains; ingest lag per partition; and whether
//! this replica leads. Every change bumps a sequence number, so a page
//! receives only the targets that changed since it last looked.
//!
//! Bounded: [`SERIES`] points and [`DECISIONS`] decisions per target, and
//! targets no policy names any more are dropped.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::watch;

use super::tick::{Action, Record};

/// Ticks kept per target for the page's charts.
pub const SERIES: usize = 240;
/// Notable decisions (a change asked for, or a new reason) kept per target.
pub const DECISIONS: usize = 10;

/// One metric at one tick: its value and its usage against the target.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MetricView {
    pub name: String,
    /// The measured value as the decision read it (a quantity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Usage over target (1.0 is exactly on target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The forecast a tick acted on (or did not).
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ForecastView {
    /// The upper forecast over the horizon, in the first metric's units.
    pub value: f64,
    /// The accuracy gate has fallen back: the policy acts reactively.
    pub gated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mape_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_ratio: Option<f64>,
}

/// One point of a target's recent series.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Point {
    /// Milliseconds since the epoch.
    pub t: i64,
    /// Each metric's usage over target, in the order of `metrics`.
    pub ratios: Vec<Option<f64>>,
    pub ready: i32,
    pub current: i32,
    pub desired: i32,
}

/// One step of a reason chain.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    pub step: &'static str,
    pub replicas: i32,
    pub reason: &'static str,
    pub message: String,
}

/// One decision as the page lists it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionView {
    pub t: i64,
    pub from: i32,
    pub to: i32,
    pub action: Action,
    /// The step that decided, and why.
    pub reason: String,
    pub steps: Vec<StepView>,
}

/// Everything the page shows of one target.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetView {
    pub key: String,
    pub kind: String,
    /// Bumped on every change; the page asks for what changed after its last.
    pub seq: u64,
    pub ready: i32,
    pub current: i32,
    pub desired: i32,
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub paused: bool,
    /// The HPA that also scales the target (scalepilot refuses to write).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hpa_conflict: Option<String>,
    pub action: Action,
    pub metrics: Vec<MetricView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastView>,
    pub series: VecDeque<Point>,
    pub decisions: VecDeque<DecisionView>,
}

/// Ingest lag of one partition.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Lag {
    pub topic: String,
    pub partition: i32,
    pub messages: i64,
}

/// The replica's own state, beside its targets.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub identity: String,
    /// `leader`, `standby` or `dry-run`.
    pub role: &'static str,
    pub lag: Vec<Lag>,
    pub seq: u64,
}

/// What the page fetches: the header, the targets changed after `since`, and
/// (when the set of targets changed after it) every target's key.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Update {
    #[serde(flatten)]
    pub header: Header,
    pub targets: Vec<TargetView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
}

#[derive(Default)]
struct State {
    seq: u64,
    keys_seq: u64,
    identity: String,
    role: &'static str,
    lag: Vec<Lag>,
    targets: BTreeMap<String, TargetView>,
}

impl State {
    fn bump(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// The dashboard's state, shared by the decision loop, the ingest thread and
/// the page's requests.
pub struct Board {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

/// What a tick adds beside its record.
pub struct TickView<'a> {
    pub kind: &'a str,
    pub ready: i32,
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub paused: bool,
}

impl Board {
    pub fn new(identity: &str, dry_run: bool) -> Self {
        let state = State {
            identity: identity.to_string(),
            role: if dry_run { "dry-run" } else { "standby" },
            ..State::default()
        };
        Board {
            state: Mutex::new(state),
            changed: watch::channel(0).0,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let before = s.seq;
        let r = f(&mut s);
        if s.seq != before {
            self.changed.send_replace(s.seq);
        }
        r
    }

    /// Wakes when anything changed (the value is the latest sequence number).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn set_leader(&self, leader: bool) {
        self.with(|s| {
            if s.role == "dry-run" {
                return;
            }
            let role = if leader { "leader" } else { "standby" };
            if s.role != role {
                s.role = role;
                s.bump();
            }
        });
    }

    pub fn set_lag(&self, mut lag: Vec<Lag>) {
        lag.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        self.with(|s| {
            if s.lag != lag {
                s.lag = lag;
                s.bump();
            }
        });
    }

    /// Drops the targets no policy names any more.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.with(|s| {
            let before = s.targets.len();
            s.targets.retain(|k, _| keep(k));
            if s.targets.len() != before {
                s.keys_seq = s.bump();
            }
        });
    }

    /// Records one tick of one target.
    pub fn tick(&self, r: &Record, v: &TickView) {
        let d = &r.decision;
        let metrics: Vec<MetricView> = d
            .proposals
            .iter()
            .map(|p| MetricView {
                name: p.metric.clone(),
                value: p.raw_value.clone(),
                ratio: p.ratio.filter(|x| x.is_finite()),
                error: p.error.clone(),
            })
            .collect();
        let point = Point {
            t: r.time.timestamp_millis(),
            ratios: metrics.iter().map(|m| m.ratio).collect(),
            ready: v.ready,
            current: d.current_replicas,
            desired: d.desired_replicas,
        };
        let deciding = d
            .deciding_step()
            .map(|s| format!("{}: {}", s.step, s.reason))
            .unwrap_or_default();
        let view = DecisionView {
            t: point.t,
            from: d.current_replicas,
            to: d.desired_replicas,
            action: r.action.clone(),
            reason: deciding,
            steps: d
                .steps
                .iter()
                .map(|s| StepView {
                    step: s.step,
                    replicas: s.replicas,
                    reason: s.reason,
                    message: s.message.clone(),
                })
                .collect(),
        };
        self.with(|s| {
            let seq = s.bump();
            let new = !s.targets.contains_key(&r.target);
            if new {
                s.keys_seq = seq;
            }
            let t = s
                .targets
                .entry(r.target.clone())
                .or_insert_with(|| TargetView {
                    key: r.target.clone(),
                    kind: String::new(),
                    seq,
                    ready: 0,
                    current: 0,
                    desired: 0,
                    min_replicas: 0,
                    max_replicas: 0,
                    paused: false,
                    hpa_conflict: None,
                    action: Action::Unchanged,
                    metrics: Vec::new(),
                    forecast: None,
                    series: VecDeque::new(),
                    decisions: VecDeque::new(),
                });
            t.seq = seq;
            t.kind = v.kind.to_string();
            t.ready = v.ready;
            t.current = d.current_replicas;
            t.desired = d.desired_replicas;
            t.min_replicas = v.min_replicas;
            t.max_replicas = v.max_replicas;
            t.paused = v.paused;
            t.hpa_conflict = r.hpa.as_ref().map(|h| h.name.clone());
            t.action = r.action.clone();
            t.metrics = metrics;
            t.forecast = r.forecast.clone();
            if t.series.len() == SERIES {
                t.series.pop_front();
            }
            t.series.push_back(point);
            let notable = view.from != view.to
                || t.decisions
                    .back()
                    .is_none_or(|last| last.reason != view.reason || last.action != view.action);
            if notable {
                if t.decisions.len() == DECISIONS {
                    t.decisions.pop_front();
                }
                t.decisions.push_back(view);
            }
        });
    }

    /// The header and the targets changed after `since` (all of them for 0).
    pub fn update(&self, since: u64) -> Update {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Update {
            header: Header {
                identity: s.identity.clone(),
                role: s.role,
                lag: s.lag.clone(),
                seq: s.seq,
            },
            targets: s
                .targets
                .values()
                .filter(|t| t.seq > since)
                .cloned()
                .collect(),
            keys: (since == 0 || s.keys_seq > since).then(|| s.targets.keys().cloned().collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{Decision, History};

    fn record(target: &str, s: i64, from: i32, to: i32) -> Record {
        Record {
            time: chrono::DateTime::from_timestamp(s, 0).unwrap(),
            target: target.into(),
            identity: "me".into(),
            leader: true,
            action: Action::Unchanged,
            decision: Decision {
                desired_replicas: to,
                current_replicas: from,
                proposals: Vec::new(),
                steps: Vec::new(),
                conditions: Vec::new(),
                rescale_reason: None,
                history: History::default(),
                error: None,
            },
            hpa: None,
            forecast: None,
        }
    }

    const VIEW: TickView = TickView {
        kind: "Deployment",
        ready: 2,
        min_replicas: 1,
        max_replicas: 10,
        paused: false,
    };

    #[test]
    fn keeps_a_bounded_series_and_the_decisions_that_changed_something() {
        let b = Board::new("me", false);
        for i in 0..(SERIES as i64 + 50) {
            // Every third tick asks for a change.
            let to = if i % 3 == 0 { 3 } else { 2 };
            b.tick(&record("ns/a", i, 2, to), &VIEW);
        }
        let u = b.update(0);
        let t = &u.targets[0];
        assert_eq!(t.series.len(), SERIES);
        assert_eq!(t.series.back().unwrap().t, (SERIES as i64 + 49) * 1000);
        assert_eq!(t.decisions.len(), DECISIONS);
        assert!(
            t.decisions.iter().all(|d| d.to == 3),
            "only changes are kept"
        );
    }

    #[test]
    fn an_update_carries_only_what_changed_after_the_page_s_last_look() {
        let b = Board::new("me", false);
        b.tick(&record("ns/a", 0, 2, 2), &VIEW);
        b.tick(&record("ns/b", 0, 2, 2), &VIEW);
        let first = b.update(0);
        assert_eq!(first.targets.len(), 2);
        assert_eq!(
            first.keys.as_deref(),
            Some(&["ns/a".to_string(), "ns/b".into()][..])
        );
        b.tick(&record("ns/b", 1, 2, 2), &VIEW);
        let next = b.update(first.header.seq);
        let keys: Vec<&str> = next.targets.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["ns/b"]);
        assert!(next.keys.is_none(), "the set of targets did not change");
        b.retain(|k| k == "ns/b");
        let after = b.update(next.header.seq);
        assert_eq!(after.keys.as_deref(), Some(&["ns/b".to_string()][..]));
        b.set_leader(true);
        assert_eq!(b.update(0).header.role, "leader");
        let dry = Board::new("me", true);
        dry.set_leader(true);
        assert_eq!(dry.update(0).header.role, "dry-run");
    }
}
