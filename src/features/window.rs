//! Event-time windows and what they aggregate: tumbling and sliding windows
//! aligned to multiples of their size since the Unix epoch; count, sum, rate,
//! mean, min, max, quantiles (DDSketch, relative error ≤ 1 %) and a distinct
//! count of a label (HyperLogLog, `cardinality-estimator`: exact for small
//! counts, about 1.6 % standard error beyond), and an EWMA of the values.
//!
//! The EWMA is weighted by event time, not arrival: a sample at `ts` weighs
//! `2^((ts - windowEnd) / halfLife)` with `halfLife` an eighth of the window,
//! so it does not depend on the order samples arrive in and a replay after a
//! restart rebuilds it exactly. The window bounds its memory: what falls out
//! of it would weigh at most 2⁻⁸ (0.4 %). For an EWMA that remembers longer,
//! use a longer (sliding) window.

use std::hash::{Hash, Hasher};

use cardinality_estimator::CardinalityEstimator;
use serde::Serialize;
use sketches_ddsketch::{Config, DDSketch};

/// A window: `size_ms` long, a new one every `slide_ms` (tumbling when equal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WindowSpec {
    pub size_ms: i64,
    pub slide_ms: i64,
}

impl WindowSpec {
    /// The EWMA's half-life: an eighth of the window.
    pub fn half_life_ms(&self) -> f64 {
        self.size_ms as f64 / 8.0
    }

    /// The EWMA weight of a sample at `ts` in the window ending at `end`.
    pub fn ewma_weight(&self, ts: i64, end: i64) -> f64 {
        ((ts - end) as f64 / self.half_life_ms()).exp2()
    }

    pub fn tumbling(size_ms: i64) -> Self {
        WindowSpec {
            size_ms,
            slide_ms: size_ms,
        }
    }

    /// The starts of every window that contains `ts`, newest first: at most
    /// `size / slide` rounded up (bounded by policy validation, see
    /// [`crate::duration::MAX_WINDOWS_PER_SAMPLE`]). Checked arithmetic: a
    /// time so near the `i64` limits that a start or end would not fit yields
    /// no window rather than wrapping around (and never ending).
    pub fn starts(&self, ts: i64) -> impl Iterator<Item = i64> + '_ {
        let slide = self.slide_ms;
        let newest = (slide > 0)
            .then(|| ts.div_euclid(slide).checked_mul(slide))
            .flatten();
        std::iter::successors(newest, move |s| s.checked_sub(slide))
            .take_while(move |s| s.checked_add(self.size_ms).is_some_and(|end| end > ts))
    }

    /// The end of the window starting at `start` (saturating: never wraps).
    pub fn end(&self, start: i64) -> i64 {
        start.saturating_add(self.size_ms)
    }
}

/// The aggregates of one window.
#[derive(Clone)]
pub struct Aggregate {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// Σ weight·value and Σ weight of the EWMA.
    ewma_num: f64,
    ewma_den: f64,
    /// Only when quantiles are wanted (see [`super::SeriesPlan::quantiles`]).
    sketch: Option<Box<DDSketch>>,
    distinct: Option<CardinalityEstimator<u64>>,
}

impl std::fmt::Debug for Aggregate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregate")
            .field("count", &self.count)
            .field("sum", &self.sum)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Aggregate {
    pub fn new(track_distinct: bool, quantiles: bool) -> Self {
        Aggregate {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            ewma_num: 0.0,
            ewma_den: 0.0,
            sketch: quantiles.then(|| Box::new(DDSketch::new(Config::defaults()))),
            distinct: track_distinct.then(CardinalityEstimator::new),
        }
    }

    /// Adds a value with its EWMA weight (see [`WindowSpec::ewma_weight`]).
    pub fn add(&mut self, value: f64, weight: f64, label: Option<&str>) {
        self.count += 1;
        self.ewma_num += weight * value;
        self.ewma_den += weight;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if let Some(sketch) = self.sketch.as_mut() {
            sketch.add(value);
        }
        if let (Some(d), Some(l)) = (self.distinct.as_mut(), label) {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            l.hash(&mut h);
            d.insert_hash(h.finish());
        }
    }

    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.sketch.as_ref()?.quantile(q).ok().flatten()
    }

    pub fn ewma(&self) -> Option<f64> {
        (self.ewma_den > 0.0).then(|| self.ewma_num / self.ewma_den)
    }

    pub fn distinct(&self) -> Option<u64> {
        self.distinct.as_ref().map(|d| d.estimate() as u64)
    }
}

/// The quantiles reported for every window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// One window's features, as `scalepilot features` prints them.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowFeatures {
    pub target: String,
    pub metric: String,
    /// The pod, for per-pod series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    pub window_start: i64,
    pub window_end: i64,
    pub count: u64,
    pub sum: f64,
    /// `sum` per second of window.
    pub rate: f64,
    pub mean: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub quantiles: Quantiles,
    pub distinct: Option<u64>,
    /// Exponentially weighted mean by event time, half-life an eighth of the window.
    pub ewma: Option<f64>,
    /// Past the watermark plus lateness: it can no longer change.
    pub closed: bool,
}

/// Sorts windows by target, metric, end and start.
pub fn sort_windows(windows: &mut [WindowFeatures]) {
    windows.sort_by(|a, b| {
        (&a.target, &a.metric, a.window_end, a.window_start).cmp(&(
            &b.target,
            &b.metric,
            b.window_end,
            b.window_start,
        ))
    });
}

impl WindowFeatures {
    pub fn of(
        target: &str,
        metric: &str,
        pod: Option<&str>,
        spec: WindowSpec,
        start: i64,
        agg: &Aggregate,
        closed: bool,
    ) -> Self {
        let has = agg.count > 0;
        WindowFeatures {
            target: target.to_string(),
            metric: metric.to_string(),
            pod: pod.map(str::to_string),
            window_start: start,
            window_end: spec.end(start),
            count: agg.count,
            sum: agg.sum,
            rate: agg.sum * 1000.0 / spec.size_ms as f64,
            mean: has.then(|| agg.sum / agg.count as f64),
            min: has.then_some(agg.min),
            max: has.then_some(agg.max),
            quantiles: Quantiles {
                p50: agg.quantile(0.5),
                p90: agg.quantile(0.9),
                p95: agg.quantile(0.95),
                p99: agg.quantile(0.99),
            },
            distinct: agg.distinct(),
            ewma: agg.ewma(),
            closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_to_multiples_of_the_slide() {
        let tumbling = WindowSpec::tumbling(60_000);
        assert_eq!(tumbling.starts(125_000).collect::<Vec<_>>(), [120_000]);
        assert_eq!(tumbling.starts(-1).collect::<Vec<_>>(), [-60_000]);
        let sliding = WindowSpec {
            size_ms: 60_000,
            slide_ms: 20_000,
        };
        assert_eq!(
            sliding.starts(125_000).collect::<Vec<_>>(),
            [120_000, 100_000, 80_000]
        );
        assert_eq!(
            sliding.starts(120_000).collect::<Vec<_>>(),
            [120_000, 100_000, 80_000]
        );
    }

    #[test]
    fn window_starts_near_the_i64_limits_end_instead_of_wrapping() {
        let sliding = WindowSpec {
            size_ms: 60_000,
            slide_ms: 20_000,
        };
        // The newest start of i64::MIN would be below i64::MIN: no window.
        assert_eq!(sliding.starts(i64::MIN).count(), 0);
        assert_eq!(WindowSpec::tumbling(60_000).starts(i64::MIN).count(), 0);
        // Ends past i64::MAX do not exist: no window either.
        assert_eq!(sliding.starts(i64::MAX).count(), 0);
        assert_eq!(sliding.starts(i64::MIN + 100_000).count(), 3);
        let broken = WindowSpec {
            size_ms: 60_000,
            slide_ms: 0,
        };
        assert_eq!(broken.starts(0).count(), 0);
    }

    #[test]
    fn aggregates_and_sketch_error_bounds() {
        let mut a = Aggregate::new(true, true);
        for i in 1..=1000 {
            a.add(f64::from(i), 1.0, Some(&format!("user-{}", i % 100)));
        }
        let f = WindowFeatures::of("t/d", "m", None, WindowSpec::tumbling(10_000), 0, &a, false);
        assert_eq!(f.count, 1000);
        assert_eq!(f.sum, 500_500.0);
        assert_eq!(f.rate, 50_050.0);
        assert_eq!(f.mean, Some(500.5));
        assert_eq!((f.min, f.max), (Some(1.0), Some(1000.0)));
        for (q, exact) in [(f.quantiles.p50, 500.0), (f.quantiles.p99, 990.0)] {
            let q = q.unwrap();
            assert!((q - exact).abs() <= 0.011 * exact, "{q} vs {exact}");
        }
        assert_eq!(f.distinct, Some(100), "small cardinalities are exact");
        assert_eq!(f.ewma, Some(500.5), "equal weights: the mean");
    }

    #[test]
    fn ewma_weighs_by_event_time_not_arrival() {
        let spec = WindowSpec::tumbling(80_000); // half-life 10 s
        let samples = [(79_999, 10.0), (70_000, 0.0), (0, 1000.0)];
        let ewma = |order: &[usize]| {
            let mut a = Aggregate::new(false, true);
            for &i in order {
                let (ts, v) = samples[i];
                a.add(v, spec.ewma_weight(ts, 80_000), None);
            }
            a.ewma().unwrap()
        };
        let forward = ewma(&[0, 1, 2]);
        assert!((forward - ewma(&[2, 1, 0])).abs() < 1e-9);
        // Weights ≈ 1, 1/2 and 1/256: (10 + 0 + 1000/256) / (1.5 + 1/256).
        let expected = (10.0 + 1000.0 / 256.0) / (1.5 + 1.0 / 256.0);
        assert!((forward - expected).abs() < 1e-3, "{forward} vs {expected}");
    }
}
