//! The window state of one partition: samples folded into event-time windows
//! per (target, metric), a watermark (the highest event time seen) with an
//! allowed lateness, and dedupe state that makes at-least-once delivery count
//! exactly once.
//!
//! Dedupe keeps a 64-bit hash of each sample's identity (its `id`, or its
//! topic/partition/offset/index) in one-second panes of event time, and drops a
//! pane once no sample that falls in it can be accepted any more (it would be
//! older than the watermark minus the lateness, hence rejected as late). So the
//! state covers only the lateness horizon, and a ceiling on the number of ids
//! bounds it for any input: past the ceiling, samples are rejected and counted
//! (`dedupe_full`), never silently double-counted. Guarantee: a sample seen
//! twice within the horizon is counted once; two different samples collide
//! with probability about n²/2⁶⁵ for n ids in one pane.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use foldhash::fast::FixedState;
use foldhash::{HashMap, HashMapExt, HashSet};

use super::sample::{check, Rejection, Sample};
use super::window::{Aggregate, WindowFeatures, WindowSpec};

/// Limits and clocks of the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub allowed_lateness_ms: i64,
    /// Event times further ahead of the consumer's clock are rejected.
    pub max_future_ms: i64,
    /// Closed windows kept per series and window spec, for reading.
    pub retain_closed: usize,
    /// Ceiling on dedupe ids held by one partition.
    pub max_dedupe_ids: usize,
    /// Ceiling on (target, metric) series held by one partition.
    pub max_series: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            allowed_lateness_ms: 10_000,
            max_future_ms: 300_000,
            retain_closed: 10,
            max_dedupe_ids: 4_000_000,
            max_series: 100_000,
        }
    }
}

/// The windows of one series, and the label whose distinct values to count.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesPlan {
    pub windows: Vec<WindowSpec>,
    pub distinct_label: Option<String>,
}

/// Which series to keep and how: from the policies, or one default for all.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    by_target: HashMap<String, HashMap<String, Arc<SeriesPlan>>>,
    /// For metrics of known targets without their own plan, or for every
    /// target when `all_targets` is set.
    default: Option<Arc<SeriesPlan>>,
    all_targets: bool,
}

impl Plan {
    /// Every target and metric gets `plan` (what `scalepilot features` does without policies).
    pub fn everything(plan: SeriesPlan) -> Self {
        Plan {
            by_target: HashMap::new(),
            default: Some(Arc::new(plan)),
            all_targets: true,
        }
    }

    /// Only the named targets; their unnamed metrics get `default`.
    pub fn targets(default: SeriesPlan) -> Self {
        Plan {
            by_target: HashMap::new(),
            default: Some(Arc::new(default)),
            all_targets: false,
        }
    }

    pub fn add(&mut self, target: &str, metric: Option<&str>, plan: SeriesPlan) {
        let metrics = self.by_target.entry(target.to_string()).or_default();
        if let Some(m) = metric {
            metrics.insert(m.to_string(), Arc::new(plan));
        }
    }

    fn get(&self, target: &str, metric: &str) -> Option<&Arc<SeriesPlan>> {
        match self.by_target.get(target) {
            Some(metrics) => metrics.get(metric).or(self.default.as_ref()),
            None if self.all_targets => self.default.as_ref(),
            None => None,
        }
    }
}

/// What happened to one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Folded {
    Counted,
    Duplicate,
    /// Its target is named by no policy.
    Skipped,
    Rejected(Rejection),
}

/// Counters of one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub counted: u64,
    pub duplicates: u64,
    pub skipped: u64,
    pub rejected: BTreeMap<Rejection, u64>,
}

/// An open window: its start, aggregates, and the first offset folded into it.
struct OpenWindow {
    start: i64,
    agg: Aggregate,
    first_offset: i64,
}

/// The dedupe ids of one pane, and the first offset that put one there.
#[derive(Default)]
struct Pane {
    ids: HashSet<u64>,
    first_offset: i64,
}

struct Series {
    plan: Arc<SeriesPlan>,
    /// Open windows by (end, spec index) so the oldest close first.
    open: BTreeMap<(i64, usize), OpenWindow>,
    closed: VecDeque<WindowFeatures>,
    /// Dedupe ids by one-second pane of event time.
    panes: BTreeMap<i64, Pane>,
}

impl Series {
    /// The first offset any open window or live dedupe pane depends on.
    fn first_offset(&self) -> Option<i64> {
        let windows = self.open.values().map(|w| w.first_offset);
        let panes = self.panes.values().map(|p| p.first_offset);
        windows.chain(panes).min()
    }
}

const PANE_MS: i64 = 1000;

/// The state of one partition.
pub struct Partition {
    cfg: EngineConfig,
    plan: Arc<Plan>,
    watermark: Option<i64>,
    /// Series by target, then metric (looked up by `&str`, allocated once).
    series: HashMap<String, HashMap<String, Series>>,
    series_count: usize,
    ids: usize,
    pub counters: Counters,
}

/// The identity of a sample: its `id`, or where it was read.
pub fn identity(id: Option<&str>, topic: &str, partition: i32, offset: i64, index: usize) -> u64 {
    // A fixed seed: identities must hash the same in every process and after a restart.
    let mut h = FixedState::with_seed(0x5ca1_ab1e_0001).build_hasher();
    match id {
        Some(id) => {
            0u8.hash(&mut h);
            id.hash(&mut h);
        }
        None => {
            1u8.hash(&mut h);
            (topic, partition, offset, index).hash(&mut h);
        }
    }
    h.finish()
}

impl Partition {
    pub fn new(cfg: EngineConfig, plan: Arc<Plan>) -> Self {
        Partition {
            cfg,
            plan,
            watermark: None,
            series: HashMap::new(),
            series_count: 0,
            ids: 0,
            counters: Counters::default(),
        }
    }

    /// The highest event time folded in so far.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// Counts a rejected message (one that did not decode).
    pub fn reject(&mut self, why: Rejection) {
        *self.counters.rejected.entry(why).or_default() += 1;
    }

    /// Folds one sample, read at `offset`, in; `now_ms` is the consumer's
    /// clock (for the future check).
    pub fn fold(&mut self, s: &Sample, identity: u64, offset: i64, now_ms: i64) -> Folded {
        let outcome = self.try_fold(s, identity, offset, now_ms);
        match outcome {
            Folded::Counted => self.counters.counted += 1,
            Folded::Duplicate => self.counters.duplicates += 1,
            Folded::Skipped => self.counters.skipped += 1,
            Folded::Rejected(r) => *self.counters.rejected.entry(r).or_default() += 1,
        }
        outcome
    }

    fn try_fold(&mut self, s: &Sample, identity: u64, offset: i64, now_ms: i64) -> Folded {
        if let Err(r) = check(s) {
            return Folded::Rejected(r);
        }
        if s.ts > now_ms.saturating_add(self.cfg.max_future_ms) {
            return Folded::Rejected(Rejection::Future);
        }
        let horizon = self.watermark.map(|w| w - self.cfg.allowed_lateness_ms);
        if horizon.is_some_and(|h| s.ts < h) {
            return Folded::Rejected(Rejection::Late);
        }
        let Some(plan) = self.plan.get(&s.target, &s.metric) else {
            return Folded::Skipped;
        };
        let target: &str = &s.target;
        let metric: &str = &s.metric;
        let exists = self
            .series
            .get(target)
            .is_some_and(|m| m.contains_key(metric));
        if !exists {
            if self.series_count >= self.cfg.max_series {
                return Folded::Rejected(Rejection::DedupeFull);
            }
            self.series_count += 1;
            self.series.entry(target.to_string()).or_default().insert(
                metric.to_string(),
                Series {
                    plan: Arc::clone(plan),
                    open: BTreeMap::new(),
                    closed: VecDeque::new(),
                    panes: BTreeMap::new(),
                },
            );
        }
        let series = self
            .series
            .get_mut(target)
            .and_then(|m| m.get_mut(metric))
            .expect("the series was just ensured");
        let pane = series
            .panes
            .entry(s.ts.div_euclid(PANE_MS))
            .or_insert_with(|| Pane {
                ids: HashSet::default(),
                first_offset: offset,
            });
        if pane.ids.contains(&identity) {
            return Folded::Duplicate;
        }
        if self.ids >= self.cfg.max_dedupe_ids {
            return Folded::Rejected(Rejection::DedupeFull);
        }
        pane.ids.insert(identity);
        pane.first_offset = pane.first_offset.min(offset);
        self.ids += 1;
        let label = series
            .plan
            .distinct_label
            .as_deref()
            .and_then(|l| s.label(l));
        let track = series.plan.distinct_label.is_some();
        for (i, spec) in series.plan.windows.iter().enumerate() {
            for start in spec.starts(s.ts) {
                let w = series
                    .open
                    .entry((start + spec.size_ms, i))
                    .or_insert_with(|| OpenWindow {
                        start,
                        agg: Aggregate::new(track),
                        first_offset: offset,
                    });
                w.first_offset = w.first_offset.min(offset);
                w.agg.add(s.value, label.as_deref());
            }
        }
        if self.watermark.is_none_or(|w| s.ts > w) {
            self.watermark = Some(s.ts);
            self.ids -= close(series, &self.cfg, self.watermark, target, metric);
        }
        Folded::Counted
    }

    /// Every window still held (open, and the closed ones retained), closing
    /// what the watermark allows first; sorted by target, metric, end.
    pub fn windows(&mut self) -> Vec<WindowFeatures> {
        let mut out = Vec::new();
        for (target, metric, series) in self
            .series
            .iter_mut()
            .flat_map(|(t, ms)| ms.iter_mut().map(move |(m, s)| (t, m, s)))
        {
            self.ids -= close(series, &self.cfg, self.watermark, target, metric);
            out.extend(series.closed.iter().cloned());
            for (&(_, i), w) in &series.open {
                out.push(WindowFeatures::of(
                    target,
                    metric,
                    series.plan.windows[i],
                    w.start,
                    &w.agg,
                    false,
                ));
            }
        }
        out.sort_by(|a, b| {
            (&a.target, &a.metric, a.window_end, a.window_start).cmp(&(
                &b.target,
                &b.metric,
                b.window_end,
                b.window_start,
            ))
        });
        out
    }

    /// Dedupe ids currently held.
    pub fn dedupe_ids(&self) -> usize {
        self.ids
    }

    /// The offset to commit so that a restart rebuilds this state exactly:
    /// the first offset any open window or live dedupe pane depends on, or
    /// `next_offset` when nothing is held. Replaying from there refolds every
    /// sample still in play, in the partition's order, so windows, dedupe and
    /// the watermark come back as they were.
    pub fn resume_offset(&mut self, next_offset: i64) -> i64 {
        let mut first = next_offset;
        for (target, metrics) in &mut self.series {
            for (metric, series) in metrics {
                self.ids -= close(series, &self.cfg, self.watermark, target, metric);
                if let Some(o) = series.first_offset() {
                    first = first.min(o);
                }
            }
        }
        first
    }
}

/// Closes the windows the watermark passed (plus lateness) and drops dedupe
/// panes that can no longer receive a sample; returns the ids dropped.
fn close(
    series: &mut Series,
    cfg: &EngineConfig,
    watermark: Option<i64>,
    target: &str,
    metric: &str,
) -> usize {
    let Some(w) = watermark else { return 0 };
    let horizon = w - cfg.allowed_lateness_ms;
    while let Some(entry) = series.open.first_entry() {
        let (end, i) = *entry.key();
        if end > horizon {
            break;
        }
        let w = entry.remove();
        series.closed.push_back(WindowFeatures::of(
            target,
            metric,
            series.plan.windows[i],
            w.start,
            &w.agg,
            true,
        ));
        if series.closed.len() > cfg.retain_closed * series.plan.windows.len() {
            series.closed.pop_front();
        }
    }
    let mut dropped = 0;
    while let Some(entry) = series.panes.first_entry() {
        if (*entry.key() + 1) * PANE_MS > horizon {
            break;
        }
        dropped += entry.remove().ids.len();
    }
    dropped
}
