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
//!
//! Event times are bounded: before 2000 (`before_2000`) or more than
//! `max_future_ms` ahead of the consumer's clock (`future`) is rejected, so
//! window arithmetic stays far from the `i64` limits. The series table is
//! bounded too: a series idle long enough that it holds nothing a reader
//! could still use is evicted (pod names churn), and past `max_series` live
//! series a new one is rejected (`series_limit`).

use std::collections::{BTreeMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use foldhash::fast::FixedState;
use foldhash::{HashMap, HashMapExt, HashSet};

use super::keyed::KeyedDeque;
use super::sample::{check, Rejection, Sample, MIN_EVENT_TIME_MS};
use super::window::{sort_windows, Aggregate, WindowFeatures, WindowSpec};

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
    /// Ceiling on (target, metric) series held by one partition; idle
    /// series are evicted first (see [`idle_eviction_ms`]).
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
    /// One series per pod (samples carrying `pod`), for Pods and Resource metrics.
    pub per_pod: bool,
    /// Keep a quantile sketch: some reader wants a quantile of this metric.
    /// Without, a window's quantiles are `None` and it holds no sketch (at
    /// least 1 KB a window once it has a value).
    pub quantiles: bool,
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

    /// Every series keeps a quantile sketch, whatever the policies read
    /// (what `scalepilot features` prints).
    pub fn with_quantiles(mut self) -> Self {
        let on = |p: &mut Arc<SeriesPlan>| Arc::make_mut(p).quantiles = true;
        self.default.iter_mut().for_each(on);
        self.by_target
            .values_mut()
            .flat_map(HashMap::values_mut)
            .for_each(on);
        self
    }

    /// The plan of a series, or `None` when its target is named by no policy.
    pub fn get(&self, target: &str, metric: &str) -> Option<&Arc<SeriesPlan>> {
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
    /// Replayed after a restart into windows already closed and published.
    Replayed,
    Rejected(Rejection),
}

/// Counters of one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub counted: u64,
    pub duplicates: u64,
    pub skipped: u64,
    pub replayed: u64,
    pub rejected: BTreeMap<Rejection, u64>,
}

/// Where a piece of state began: the first offset folded into it, and the
/// partition's watermark just before that offset was folded. A checkpoint is
/// the earliest mark still held: replaying from its offset, starting with its
/// watermark, rebuilds everything that depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub offset: i64,
    pub watermark_before: Option<i64>,
}

impl Mark {
    /// The one with the lower offset; at the same offset (samples of one
    /// message), the one with the lower watermark, which was folded first
    /// (`self` on a tie).
    pub fn earlier(self, other: Mark) -> Mark {
        if (other.offset, other.watermark_before) < (self.offset, self.watermark_before) {
            other
        } else {
            self
        }
    }
}

/// An open window: its start, aggregates, and where it began.
struct OpenWindow {
    start: i64,
    agg: Aggregate,
    first: Mark,
}

/// The dedupe ids of one pane, and where it began.
struct Pane {
    ids: HashSet<u64>,
    first: Mark,
}

/// What a consumer commits with its offset so that a restart rebuilds the
/// partition's state exactly: replay from `offset`, starting with the
/// watermark the partition had just before it, and skip the windows that were
/// already closed (and published) at the commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub offset: i64,
    pub watermark: Option<i64>,
    /// Windows ending at or before this were closed at the commit.
    pub closed_through: Option<i64>,
}

impl Checkpoint {
    /// The commit metadata string: `v1;w=<ms>;c=<ms>` (`-` for none).
    pub fn metadata(&self) -> String {
        let f = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
        format!("v1;w={};c={}", f(self.watermark), f(self.closed_through))
    }

    /// Parses commit metadata written by `metadata` for a committed `offset`.
    pub fn from_metadata(offset: i64, metadata: &str) -> Option<Checkpoint> {
        let mut parts = metadata.split(';');
        if parts.next()? != "v1" {
            return None;
        }
        let mut value = |key: &str| -> Option<Option<i64>> {
            let v = parts.next()?.strip_prefix(key)?;
            if v == "-" {
                Some(None)
            } else {
                v.parse().ok().map(Some)
            }
        };
        let watermark = value("w=")?;
        let closed_through = value("c=")?;
        Some(Checkpoint {
            offset,
            watermark,
            closed_through,
        })
    }

    /// Moves the resume point back to `mark` if it is earlier: state held
    /// outside the windows (OTLP's previous cumulative points) depends on it.
    pub fn hold(&mut self, mark: Mark) {
        let here = Mark {
            offset: self.offset,
            watermark_before: self.watermark,
        };
        let first = here.earlier(mark);
        self.offset = first.offset;
        self.watermark = first.watermark_before;
    }
}

struct Series {
    metric: String,
    pod: Option<String>,
    plan: Arc<SeriesPlan>,
    /// The newest event time folded in.
    last_ts: i64,
    /// Open windows by (end, spec index) so the oldest close first.
    open: KeyedDeque<(i64, usize), OpenWindow>,
    closed: VecDeque<WindowFeatures>,
    /// Dedupe ids by one-second pane of event time.
    panes: KeyedDeque<i64, Pane>,
    /// The emptied id set of the last pane dropped, for the next pane to
    /// fill without allocating and growing a set of its own.
    spare: HashSet<u64>,
}

impl Series {
    /// The features of window `w` of spec `i` of this series.
    fn features(&self, target: &str, i: usize, w: &OpenWindow, closed: bool) -> WindowFeatures {
        let pod = self.pod.as_deref();
        WindowFeatures::of(
            target,
            &self.metric,
            pod,
            self.plan.windows[i],
            w.start,
            &w.agg,
            closed,
        )
    }

    /// The earliest mark any open window or live dedupe pane depends on.
    fn first_mark(&self) -> Option<Mark> {
        let windows = self.open.values().map(|w| w.first);
        let panes = self.panes.values().map(|p| p.first);
        windows.chain(panes).reduce(Mark::earlier)
    }
}

const PANE_MS: i64 = 1000;

/// How long a series must have been idle (watermark minus its newest event
/// time) before it is evicted: three of its longest windows, twice the
/// lateness and 10 s. By then no window of it is open, no dedupe pane is
/// live, and its newest closed window ended more than two windows plus twice
/// the lateness plus 10 s ago, so a reader already treats it as stale: the
/// eviction changes nothing anyone sees.
pub fn idle_eviction_ms(longest_window_ms: i64, allowed_lateness_ms: i64) -> i64 {
    longest_window_ms
        .saturating_mul(3)
        .saturating_add(allowed_lateness_ms.saturating_mul(2))
        .saturating_add(10_000)
}

/// Watermark progress between two sweeps for idle series made because the
/// series table is full (so a flood of new series costs one sweep a second of
/// event time, not one per sample).
const SWEEP_EVERY_MS: i64 = 1000;

/// The state of one partition.
pub struct Partition {
    cfg: EngineConfig,
    plan: Arc<Plan>,
    watermark: Option<i64>,
    /// Windows ending at or before this were closed before a restart.
    closed_through: Option<i64>,
    /// Series by target, then metric (looked up by `&str`, allocated once).
    series: HashMap<String, HashMap<String, Series>>,
    series_count: usize,
    /// The watermark at the last sweep for idle series.
    swept_at: Option<i64>,
    ids: usize,
    /// Windows closed since the last `take_closed`.
    newly_closed: Vec<WindowFeatures>,
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
            closed_through: None,
            series: HashMap::new(),
            series_count: 0,
            swept_at: None,
            ids: 0,
            newly_closed: Vec::new(),
            counters: Counters::default(),
        }
    }

    /// The highest event time folded in so far.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// Series currently held.
    pub fn series_count(&self) -> usize {
        self.series_count
    }

    /// The plan this partition keeps series by.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Its limits and clocks.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Counts a rejected message (one that did not decode).
    pub fn reject(&mut self, why: Rejection) {
        self.tally(Folded::Rejected(why));
    }

    /// Counts an outcome decided outside [`Partition::fold`] (by a decoder
    /// that keeps state of its own, like OTLP's cumulative points).
    pub fn tally(&mut self, outcome: Folded) {
        match outcome {
            Folded::Counted => self.counters.counted += 1,
            Folded::Duplicate => self.counters.duplicates += 1,
            Folded::Skipped => self.counters.skipped += 1,
            Folded::Replayed => self.counters.replayed += 1,
            Folded::Rejected(r) => *self.counters.rejected.entry(r).or_default() += 1,
        }
    }

    /// Folds one sample, read at `offset`, in; `now_ms` is the consumer's
    /// clock (for the future check).
    pub fn fold(&mut self, s: &Sample, identity: u64, offset: i64, now_ms: i64) -> Folded {
        let mark = Mark {
            offset,
            watermark_before: self.watermark,
        };
        self.fold_marked(s, identity, mark, now_ms)
    }

    /// Folds one sample whose state depends on `mark`: the windows and the
    /// dedupe pane it lands in hold the checkpoint back to it. A sample
    /// derived from an earlier message (an OTLP counter's increase depends on
    /// the previous point of its series) carries that message's mark.
    pub fn fold_marked(&mut self, s: &Sample, identity: u64, mark: Mark, now_ms: i64) -> Folded {
        let outcome = self.try_fold(s, identity, mark, now_ms);
        self.tally(outcome);
        outcome
    }

    /// Whether an event time can still be folded in: not more than
    /// `max_future_ms` ahead of the consumer's clock, not before 2000, not
    /// older than the watermark minus the lateness.
    pub fn admits(&self, ts: i64, now_ms: i64) -> Result<(), Rejection> {
        if ts > now_ms.saturating_add(self.cfg.max_future_ms) {
            return Err(Rejection::Future);
        }
        if ts < MIN_EVENT_TIME_MS {
            return Err(Rejection::Before2000);
        }
        let horizon = self
            .watermark
            .map(|w| w.saturating_sub(self.cfg.allowed_lateness_ms));
        if horizon.is_some_and(|h| ts < h) {
            return Err(Rejection::Late);
        }
        Ok(())
    }

    /// Advances the watermark to `ts` (an admitted event time that folded no
    /// sample, such as the first point of an OTLP counter), so that the
    /// watermark follows event times whatever a decoder's own state made of
    /// them, and a replay rebuilds it the same.
    pub fn observe_time(&mut self, ts: i64) {
        if self.watermark.is_none_or(|w| ts > w) {
            self.watermark = Some(ts);
        }
    }

    fn try_fold(&mut self, s: &Sample, identity: u64, mark: Mark, now_ms: i64) -> Folded {
        if let Err(r) = check(s) {
            return Folded::Rejected(r);
        }
        if let Err(r) = self.admits(s.ts, now_ms) {
            return Folded::Rejected(r);
        }
        let Some(plan) = self.plan.get(&s.target, &s.metric) else {
            return Folded::Skipped;
        };
        let before = self.watermark;
        if let Some(barrier) = self.closed_through {
            // The newest window holding the sample ends last; if even it was
            // closed before the restart, the sample was counted and published.
            let live = plan.windows.iter().any(|spec| {
                spec.starts(s.ts)
                    .next()
                    .is_some_and(|start| spec.end(start) > barrier)
            });
            if !live {
                self.watermark = Some(before.map_or(s.ts, |w| w.max(s.ts)));
                return Folded::Replayed;
            }
        }
        let target: &str = &s.target;
        let pod = s.pod.as_deref().filter(|_| plan.per_pod);
        // The series key: the metric; for a per-pod series, or a metric name
        // holding the separator, a separator, the name's length, the name and
        // the pod, so that no metric name can pose as another series' key.
        let key: std::borrow::Cow<'_, str> = match pod {
            None if !s.metric.contains('\u{1f}') => std::borrow::Cow::Borrowed(&s.metric),
            _ => {
                let pod = pod.map_or(String::new(), |p| format!("\u{1f}{p}"));
                format!("\u{1f}{}:{}{pod}", s.metric.len(), s.metric).into()
            }
        };
        let metric: &str = &key;
        let exists = self
            .series
            .get(target)
            .is_some_and(|m| m.contains_key(metric));
        if !exists {
            let plan = Arc::clone(plan);
            if self.series_count >= self.cfg.max_series {
                self.sweep_when_full();
            }
            if self.series_count >= self.cfg.max_series {
                return Folded::Rejected(Rejection::SeriesLimit);
            }
            self.series_count += 1;
            self.series.entry(target.to_string()).or_default().insert(
                metric.to_string(),
                Series {
                    metric: s.metric.to_string(),
                    pod: pod.map(str::to_string),
                    plan,
                    last_ts: s.ts,
                    open: KeyedDeque::default(),
                    closed: VecDeque::new(),
                    panes: KeyedDeque::default(),
                    spare: HashSet::default(),
                },
            );
        }
        let series = self
            .series
            .get_mut(target)
            .and_then(|m| m.get_mut(metric))
            .expect("the series was just ensured");
        let spare = &mut series.spare;
        let pane = series
            .panes
            .get_or_insert_with(s.ts.div_euclid(PANE_MS), || Pane {
                ids: std::mem::take(spare),
                first: mark,
            });
        if !pane.ids.insert(identity) {
            return Folded::Duplicate;
        }
        if self.ids >= self.cfg.max_dedupe_ids {
            pane.ids.remove(&identity);
            return Folded::Rejected(Rejection::DedupeFull);
        }
        pane.first = pane.first.earlier(mark);
        self.ids += 1;
        series.last_ts = series.last_ts.max(s.ts);
        let label = series
            .plan
            .distinct_label
            .as_deref()
            .and_then(|l| s.label(l));
        let track = series.plan.distinct_label.is_some();
        for (i, spec) in series.plan.windows.iter().enumerate() {
            for start in spec.starts(s.ts) {
                let end = spec.end(start);
                if self.closed_through.is_some_and(|b| end <= b) {
                    continue; // closed and published before the restart
                }
                let w = series.open.get_or_insert_with((end, i), || OpenWindow {
                    start,
                    agg: Aggregate::new(track, series.plan.quantiles),
                    first: mark,
                });
                w.first = w.first.earlier(mark);
                let weight = spec.ewma_weight(s.ts, end);
                w.agg.add(s.value, weight, label.as_deref());
            }
        }
        if self.watermark.is_none_or(|w| s.ts > w) {
            self.watermark = Some(s.ts);
            self.ids -= close(
                series,
                &self.cfg,
                self.watermark,
                target,
                &mut self.newly_closed,
            );
        }
        Folded::Counted
    }

    /// Every window still held (open, and the closed ones retained), closing
    /// what the watermark allows first; sorted by target, metric, end.
    pub fn windows(&mut self) -> Vec<WindowFeatures> {
        self.close_all();
        let mut out = Vec::new();
        for (target, series) in self
            .series
            .iter()
            .flat_map(|(t, ms)| ms.values().map(move |s| (t, s)))
        {
            out.extend(series.closed.iter().cloned());
            for (&(_, i), w) in series.open.iter() {
                out.push(series.features(target, i, w, false));
            }
        }
        sort_windows(&mut out);
        out
    }

    /// How many windows [`Partition::windows`] would return, without
    /// building them.
    pub fn windows_held(&mut self) -> usize {
        self.close_all();
        self.series
            .values()
            .flat_map(HashMap::values)
            .map(|s| s.closed.len() + s.open.len())
            .sum()
    }

    /// The windows closed since the last call, in closing order. A consumer
    /// that publishes closed windows does so before storing the resume
    /// offset, so a window is published at least once and, rebuilt by a
    /// replay, always with the same content.
    pub fn take_closed(&mut self) -> Vec<WindowFeatures> {
        std::mem::take(&mut self.newly_closed)
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
        self.checkpoint(next_offset).offset
    }

    /// The checkpoint to commit after folding everything before `next_offset`
    /// (see [`Checkpoint`]); closes what the watermark allows first.
    pub fn checkpoint(&mut self, next_offset: i64) -> Checkpoint {
        self.close_all();
        let first = self
            .series
            .values()
            .flat_map(HashMap::values)
            .filter_map(Series::first_mark)
            .reduce(Mark::earlier);
        let mark = first.unwrap_or(Mark {
            offset: next_offset,
            watermark_before: self.watermark,
        });
        Checkpoint {
            offset: mark.offset,
            watermark: mark.watermark_before,
            closed_through: self
                .watermark
                .map(|w| w.saturating_sub(self.cfg.allowed_lateness_ms))
                .max(self.closed_through),
        }
    }

    /// Closes, in every series, what the watermark allows, and evicts the
    /// series idle long enough (see [`idle_eviction_ms`]).
    fn close_all(&mut self) {
        for (target, metrics) in &mut self.series {
            for series in metrics.values_mut() {
                self.ids -= close(
                    series,
                    &self.cfg,
                    self.watermark,
                    target,
                    &mut self.newly_closed,
                );
            }
        }
        self.evict_idle();
    }

    /// Drops every series idle for longer than [`idle_eviction_ms`] of its
    /// longest window, relative to the watermark.
    fn evict_idle(&mut self) {
        let Some(watermark) = self.watermark else {
            return;
        };
        self.swept_at = Some(watermark);
        let lateness = self.cfg.allowed_lateness_ms;
        let mut evicted = 0;
        let mut ids = 0;
        self.series.retain(|_, metrics| {
            metrics.retain(|_, series| {
                let longest = series.plan.windows.iter().map(|w| w.size_ms).max();
                let idle = watermark.saturating_sub(series.last_ts);
                let keep = idle <= idle_eviction_ms(longest.unwrap_or(0), lateness);
                if !keep {
                    evicted += 1;
                    ids += series.panes.values().map(|p| p.ids.len()).sum::<usize>();
                }
                keep
            });
            !metrics.is_empty()
        });
        self.series_count -= evicted;
        self.ids -= ids;
    }

    /// An eviction sweep when the series table is full, at most once per
    /// [`SWEEP_EVERY_MS`] of watermark progress.
    fn sweep_when_full(&mut self) {
        let due = match (self.swept_at, self.watermark) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(at), Some(w)) => w.saturating_sub(at) >= SWEEP_EVERY_MS,
        };
        if due {
            self.close_all();
        }
    }

    /// Starts a partition over from a committed checkpoint: the consumer
    /// resumes at `cp.offset`.
    pub fn restore(&mut self, cp: &Checkpoint) {
        self.watermark = cp.watermark;
        self.closed_through = cp.closed_through;
    }
}

/// Closes the windows the watermark passed (plus lateness) and drops dedupe
/// panes that can no longer receive a sample; returns the ids dropped.
fn close(
    series: &mut Series,
    cfg: &EngineConfig,
    watermark: Option<i64>,
    target: &str,
    newly_closed: &mut Vec<WindowFeatures>,
) -> usize {
    let Some(w) = watermark else { return 0 };
    let horizon = w.saturating_sub(cfg.allowed_lateness_ms);
    while let Some((end, i)) = series.open.first_key() {
        if end > horizon {
            break;
        }
        let Some((_, w)) = series.open.pop_first() else {
            break;
        };
        let features = series.features(target, i, &w, true);
        if cfg.retain_closed > 0 {
            series.closed.push_back(features.clone());
            if series.closed.len() > cfg.retain_closed * series.plan.windows.len() {
                series.closed.pop_front();
            }
        }
        newly_closed.push(features);
    }
    let mut dropped = 0;
    while let Some(pane) = series.panes.first_key() {
        if (pane + 1).saturating_mul(PANE_MS) > horizon {
            break;
        }
        let Some((_, Pane { mut ids, .. })) = series.panes.pop_first() else {
            break;
        };
        let n = ids.len();
        dropped += n;
        ids.clear();
        // Sized for the pane just dropped: a burst's large set is not kept
        // once a quieter pane has been dropped after it.
        ids.shrink_to(n);
        series.spare = ids;
    }
    dropped
}
