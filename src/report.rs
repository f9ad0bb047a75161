//! The shadow comparison behind `scalepilot report`: for each target, the
//! decision records of a `run --dry-run` beside a live HPA (each record carries
//! scalepilot's desired count and the HPA's `status.desiredReplicas` at that
//! tick), folded into how often and by how much the two differ, who would
//! have scaled first on each rise, and the replica-minutes each would have
//! spent. Pure: the command reads the files.

use serde::Serialize;

/// How far apart (either way) a rise of one and the other's are still the same
/// rise; a rise the other does not match within it is that side's alone.
pub const RISE_WINDOW_MS: i64 = 10 * 60 * 1000;

/// The most ticks one rise looks through, either way: the rise window holds
/// 120 at the default 5 s tick; a file with very many records in one window
/// (hostile, or a tick of milliseconds) then costs linear time, not quadratic.
const MAX_SCAN: usize = 4096;

/// One tick of one target: both counts at that moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick {
    /// Milliseconds since the epoch.
    pub t_ms: i64,
    /// scalepilot's desired replicas.
    pub ours: i32,
    /// The HPA's `status.desiredReplicas`.
    pub hpa: i32,
}

/// Who scaled first on the rises of one target.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rises {
    /// Rises of the HPA's desired count.
    pub hpa_rises: usize,
    /// scalepilot was above the HPA's old count earlier.
    pub scalepilot_first: usize,
    /// Both went above it at the same tick.
    pub same_tick: usize,
    /// scalepilot went above it later, within the rise window.
    pub hpa_first: usize,
    /// scalepilot did not rise within the rise window.
    pub hpa_only: usize,
    /// scalepilot went above the HPA's count and the HPA did not follow within
    /// the rise window.
    pub scalepilot_only: usize,
    /// Median lead of scalepilot over the HPA in seconds on the rises both
    /// made (negative: the HPA was first).
    pub median_lead_s: Option<f64>,
}

/// The comparison of one target.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetReport {
    pub target: String,
    /// Ticks with both counts.
    pub ticks: usize,
    /// Ticks of the target whose record carries no HPA (excluded).
    pub ticks_without_hpa: usize,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Share of ticks where the counts differ, in percent.
    pub differ_percent: f64,
    pub scalepilot_higher_percent: f64,
    pub scalepilot_lower_percent: f64,
    /// Mean |scalepilot − HPA| over the ticks.
    pub mean_abs_difference: f64,
    /// The largest difference, scalepilot − HPA, with its sign.
    pub largest_difference: i32,
    /// Replica-minutes each would have spent: each tick's count held until the
    /// next tick, over the intervals that are not gaps.
    pub scalepilot_replica_minutes: f64,
    pub hpa_replica_minutes: f64,
    /// Intervals between ticks longer than the gap bound (a controller that
    /// was down), left out of the replica-minutes.
    pub gaps: usize,
    pub rises: Rises,
}

/// Compares one target's ticks (any order; sorted by time here).
pub fn compare(target: &str, ticks: &[Tick], ticks_without_hpa: usize) -> TargetReport {
    let mut ts = ticks.to_vec();
    ts.sort_by_key(|t| t.t_ms);
    let n = ts.len().max(1) as f64;
    let differ = ts.iter().filter(|t| t.ours != t.hpa).count();
    let higher = ts.iter().filter(|t| t.ours > t.hpa).count();
    let lower = ts.iter().filter(|t| t.ours < t.hpa).count();
    let abs: i64 = ts.iter().map(|t| i64::from(t.ours.abs_diff(t.hpa))).sum();
    let largest = ts
        .iter()
        .map(|t| t.ours.saturating_sub(t.hpa))
        .max_by_key(|d| d.unsigned_abs())
        .unwrap_or(0);
    let gap = gap_bound_ms(&ts);
    let (mut ours_ms, mut hpa_ms, mut gaps) = (0f64, 0f64, 0);
    for w in ts.windows(2) {
        let dt = w[1].t_ms.saturating_sub(w[0].t_ms);
        if dt > gap {
            gaps += 1;
            continue;
        }
        ours_ms += f64::from(w[0].ours) * dt as f64;
        hpa_ms += f64::from(w[0].hpa) * dt as f64;
    }
    TargetReport {
        target: target.to_string(),
        ticks: ts.len(),
        ticks_without_hpa,
        from_ms: ts.first().map_or(0, |t| t.t_ms),
        to_ms: ts.last().map_or(0, |t| t.t_ms),
        differ_percent: 100.0 * differ as f64 / n,
        scalepilot_higher_percent: 100.0 * higher as f64 / n,
        scalepilot_lower_percent: 100.0 * lower as f64 / n,
        mean_abs_difference: abs as f64 / n,
        largest_difference: largest,
        scalepilot_replica_minutes: ours_ms / 60_000.0,
        hpa_replica_minutes: hpa_ms / 60_000.0,
        gaps,
        rises: rises(&ts),
    }
}

/// An interval longer than this is a gap: three median intervals, at least a
/// minute.
fn gap_bound_ms(ts: &[Tick]) -> i64 {
    let mut dts: Vec<i64> = ts
        .windows(2)
        .map(|w| w[1].t_ms.saturating_sub(w[0].t_ms))
        .collect();
    if dts.is_empty() {
        return 60_000;
    }
    let mid = dts.len() / 2;
    let (_, median, _) = dts.select_nth_unstable(mid);
    median.saturating_mul(3).max(60_000)
}

/// Who went first on each rise (ticks sorted by time).
fn rises(ts: &[Tick]) -> Rises {
    let mut r = Rises::default();
    let mut leads = Vec::new();
    for i in 1..ts.len() {
        // The HPA rises from `level`: when did scalepilot first go above it?
        if ts[i].hpa > ts[i - 1].hpa {
            r.hpa_rises += 1;
            let (level, t) = (ts[i - 1].hpa, ts[i].t_ms);
            if ts[i].ours > level && ts[i - 1].ours <= level {
                r.same_tick += 1;
                leads.push(0.0);
            } else if ts[i].ours > level {
                // Back to where scalepilot went above it (within the window).
                let mut j = i - 1;
                while j > 0
                    && i - j < MAX_SCAN
                    && ts[j - 1].ours > level
                    && t - ts[j - 1].t_ms <= RISE_WINDOW_MS
                {
                    j -= 1;
                }
                r.scalepilot_first += 1;
                leads.push((t - ts[j].t_ms) as f64 / 1000.0);
            } else {
                match ts[i + 1..]
                    .iter()
                    .take(MAX_SCAN)
                    .take_while(|x| x.t_ms - t <= RISE_WINDOW_MS)
                    .find(|x| x.ours > level)
                {
                    Some(x) => {
                        r.hpa_first += 1;
                        leads.push(-((x.t_ms - t) as f64) / 1000.0);
                    }
                    None => r.hpa_only += 1,
                }
            }
        }
        // scalepilot goes above the HPA's count: does the HPA follow?
        if ts[i].ours > ts[i].hpa && ts[i - 1].ours <= ts[i - 1].hpa {
            let (level, t) = (ts[i].hpa, ts[i].t_ms);
            let followed = ts[i + 1..]
                .iter()
                .take(MAX_SCAN)
                .take_while(|x| x.t_ms - t <= RISE_WINDOW_MS)
                .any(|x| x.hpa > level);
            if !followed {
                r.scalepilot_only += 1;
            }
        }
    }
    r.median_lead_s = median(&mut leads);
    r
}

fn median(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    Some(if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ticks every 15 s from (ours, hpa) pairs.
    fn ticks(pairs: &[(i32, i32)]) -> Vec<Tick> {
        pairs
            .iter()
            .enumerate()
            .map(|(i, &(ours, hpa))| Tick {
                t_ms: i as i64 * 15_000,
                ours,
                hpa,
            })
            .collect()
    }

    #[test]
    fn differences_and_replica_minutes() {
        // 4 ticks of 15 s: the last tick's count is not held for any time.
        let r = compare("a/b", &ticks(&[(2, 2), (4, 2), (4, 3), (1, 3)]), 1);
        assert_eq!(r.ticks, 4);
        assert_eq!(r.ticks_without_hpa, 1);
        assert_eq!(r.differ_percent, 75.0);
        assert_eq!(r.scalepilot_higher_percent, 50.0);
        assert_eq!(r.scalepilot_lower_percent, 25.0);
        assert_eq!(r.mean_abs_difference, 5.0 / 4.0, "differences 0, 2, 1, 2");
        // +2 and −2 tie: the first found is kept.
        assert_eq!(r.largest_difference.abs(), 2);
        assert_eq!(r.scalepilot_replica_minutes, (2 + 4 + 4) as f64 * 0.25);
        assert_eq!(r.hpa_replica_minutes, (2 + 2 + 3) as f64 * 0.25);
        assert_eq!(r.gaps, 0);
    }

    #[test]
    fn a_gap_is_left_out() {
        let mut ts = ticks(&[(2, 2), (2, 2), (2, 2), (2, 2)]);
        // An hour of silence before the last tick.
        ts[3].t_ms += 3_600_000;
        let r = compare("a/b", &ts, 0);
        assert_eq!(r.gaps, 1);
        assert_eq!(r.hpa_replica_minutes, 2.0 * 0.5);
    }

    #[test]
    fn who_rose_first() {
        // scalepilot above 2 two ticks (30 s) before the HPA rises.
        let r = compare("a/b", &ticks(&[(2, 2), (3, 2), (3, 2), (3, 3)]), 0).rises;
        assert_eq!((r.hpa_rises, r.scalepilot_first), (1, 1));
        assert_eq!(r.median_lead_s, Some(30.0));
        assert_eq!(r.scalepilot_only, 0, "the HPA followed");
        // The HPA first, scalepilot 15 s later.
        let r = compare("a/b", &ticks(&[(2, 2), (2, 4), (3, 4)]), 0).rises;
        assert_eq!((r.hpa_first, r.median_lead_s), (1, Some(-15.0)));
        // Both at the same tick.
        let r = compare("a/b", &ticks(&[(2, 2), (5, 4)]), 0).rises;
        assert_eq!((r.same_tick, r.median_lead_s), (1, Some(0.0)));
        // The HPA alone.
        let r = compare("a/b", &ticks(&[(2, 2), (2, 4), (2, 4)]), 0).rises;
        assert_eq!((r.hpa_only, r.median_lead_s), (1, None));
        // scalepilot alone: it rises and the HPA never follows.
        let r = compare("a/b", &ticks(&[(2, 2), (4, 2), (2, 2), (2, 2)]), 0).rises;
        assert_eq!((r.hpa_rises, r.scalepilot_only), (0, 1));
    }

    #[test]
    fn a_rise_further_than_the_window_is_not_matched() {
        let mut ts = ticks(&[(2, 2), (3, 2), (3, 3)]);
        ts[2].t_ms = ts[1].t_ms + RISE_WINDOW_MS + 1;
        let r = compare("a/b", &ts, 0).rises;
        // scalepilot rose alone (the HPA did not follow within the window);
        // when the HPA rose at last, scalepilot was above already.
        assert_eq!(
            (r.scalepilot_first, r.same_tick, r.scalepilot_only),
            (1, 0, 1),
            "{r:?}"
        );
    }

    /// Very many records in one rise window (here all at one instant, the
    /// HPA flapping under a scalepilot that stays above it): every rise is
    /// still counted (each rise looks through at most `MAX_SCAN` ticks, which
    /// keeps this linear; without the cap it is quadratic).
    #[test]
    fn many_records_in_one_window_are_all_counted() {
        let n = 50_000;
        let ts: Vec<Tick> = (0..n)
            .map(|i| Tick {
                t_ms: 1_000,
                ours: 10,
                hpa: 1 + (i % 2) as i32,
            })
            .collect();
        let r = compare("a/b", &ts, 0).rises;
        assert_eq!(r.hpa_rises, n / 2);
        assert_eq!(r.scalepilot_first, n / 2);
        assert_eq!(r.median_lead_s, Some(0.0));
    }
}
