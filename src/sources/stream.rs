//! The stream source: samples on Kafka, windowed by `features` on the ingest
//! thread, which publishes every closed window into a [`FeatureStore`]. A
//! metric with a `stream` block is observed as the chosen aggregate of its
//! latest closed window that is still fresh (see [`FeatureStore::windows`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::{Observed, Source, SourceKind, Target};
use crate::decide::Time;
use crate::features::{observe_metric, stream_metric, WindowFeatures};
use crate::policy::MetricSpec;

/// Closed windows kept per target, metric, pod and window size.
const KEEP: usize = 3;

/// The latest closed windows of every target.
#[derive(Default)]
pub struct FeatureStore {
    by_target: Mutex<HashMap<String, Vec<WindowFeatures>>>,
}

impl FeatureStore {
    /// Adds closed windows, keeping the newest few of each series.
    pub fn publish(&self, closed: &[WindowFeatures]) {
        if closed.is_empty() {
            return;
        }
        let mut map = self.by_target.lock().unwrap_or_else(|e| e.into_inner());
        let mut touched = Vec::new();
        for w in closed {
            // Grown one slot at a time: the vector is cut back to its KEEP
            // windows a series below, and a doubled capacity would hold room
            // for as many again at every target (2 KB a target at 2 000
            // targets, heaptrack).
            let ws = map.entry(w.target.clone()).or_default();
            ws.reserve_exact(1);
            ws.push(w.clone());
            touched.push(w.target.clone());
        }
        touched.sort();
        touched.dedup();
        for t in touched {
            let Some(ws) = map.get_mut(&t) else { continue };
            ws.sort_by(|a, b| {
                let key = |w: &WindowFeatures| {
                    (
                        w.metric.clone(),
                        w.pod.clone(),
                        w.window_end - w.window_start,
                        w.window_end,
                    )
                };
                key(b).cmp(&key(a))
            });
            ws.dedup_by(|a, b| {
                a.metric == b.metric
                    && a.pod == b.pod
                    && a.window_start == b.window_start
                    && a.window_end == b.window_end
            });
            let mut seen: BTreeMap<(String, Option<String>, i64), usize> = BTreeMap::new();
            ws.retain(|w| {
                let n = seen
                    .entry((
                        w.metric.clone(),
                        w.pod.clone(),
                        w.window_end - w.window_start,
                    ))
                    .or_default();
                *n += 1;
                *n <= KEEP
            });
        }
    }

    /// The windows of `target` that are still fresh at `now_ms`: a window
    /// that ended more than two window lengths plus `slack_ms` ago means its
    /// samples stopped coming, and a decision must not act on it.
    pub fn windows(&self, target: &str, now_ms: i64, slack_ms: i64) -> Vec<WindowFeatures> {
        let map = self.by_target.lock().unwrap_or_else(|e| e.into_inner());
        map.get(target)
            .map(|ws| {
                ws.iter()
                    .filter(|w| {
                        w.window_end + 2 * (w.window_end - w.window_start) + slack_ms >= now_ms
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The stream source over the windows the ingest thread publishes; without
/// a store (no `--brokers`), every stream metric is missing and says why.
pub struct StreamSource {
    store: Option<Arc<FeatureStore>>,
    /// Beyond two window lengths, how old a window may be: twice the allowed
    /// lateness plus 10 s.
    slack_ms: i64,
}

impl StreamSource {
    pub fn new(store: Option<Arc<FeatureStore>>, allowed_lateness_ms: i64) -> Self {
        StreamSource {
            store,
            slack_ms: 2 * allowed_lateness_ms + 10_000,
        }
    }
}

impl Source for StreamSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Stream
    }

    fn observe(&self, target: &Target<'_>, m: &MetricSpec, now: Time) -> Observed {
        let name = stream_metric(m).unwrap_or_default();
        let Some(store) = &self.store else {
            return Observed::missing(
                m,
                Some(SourceKind::Stream),
                "no_broker",
                format!("stream metric {name} needs a broker: run with --brokers"),
            );
        };
        let windows = store.windows(target.key, now.timestamp_millis(), self.slack_ms);
        let Some(observation) = observe_metric(m, &windows) else {
            return Observed::missing(
                m,
                Some(SourceKind::Stream),
                "no_source",
                format!("metric {name} has no valid stream block"),
            );
        };
        let size_ms = m
            .stream
            .as_ref()
            .and_then(|s| s.window_ms().ok())
            .map_or(0, |(size, _)| size);
        let at = windows
            .iter()
            .filter(|w| w.closed && w.metric == name && w.window_end - w.window_start == size_ms)
            .map(|w| w.window_end)
            .max()
            .and_then(Time::from_timestamp_millis);
        let missing = observation.error.clone().map(|message| super::Missing {
            code: "no_window",
            message,
        });
        Observed {
            source: Some(SourceKind::Stream),
            observation,
            at,
            missing,
        }
    }
}
